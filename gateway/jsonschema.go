package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sluice validates a prompt's output against its JSON Schema itself, with
// the subset of JSON Schema (2020-12, which draft 7 schemas also fit) that
// structured-output modes accept:
//
//   - type (a name or a list of names), enum, const;
//   - objects: properties, required, additionalProperties (true, false or a
//     schema), minProperties, maxProperties;
//   - arrays: items (one schema for every item), minItems, maxItems;
//   - strings: minLength, maxLength (in characters), pattern (Go's RE2
//     syntax, which covers the patterns schemas use in practice);
//   - numbers: minimum, maximum, exclusiveMinimum, exclusiveMaximum (as
//     numbers), multipleOf;
//   - anyOf, oneOf, allOf, not;
//   - $ref to a local "#/$defs/NAME" or "#/definitions/NAME";
//   - annotations, which are accepted and not checked: $schema, $id,
//     $comment, title, description, default, examples, format, deprecated,
//     readOnly, writeOnly.
//
// checkSchema refuses any other keyword when a prompt is saved, so that a
// schema is never validated more loosely than it reads.

var schemaKeywords = map[string]bool{
	"type": true, "enum": true, "const": true,
	"properties": true, "required": true, "additionalProperties": true, "minProperties": true, "maxProperties": true,
	"items": true, "minItems": true, "maxItems": true,
	"minLength": true, "maxLength": true, "pattern": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true,
	"anyOf": true, "oneOf": true, "allOf": true, "not": true,
	"$ref": true, "$defs": true, "definitions": true,
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true, "default": true,
	"examples": true, "format": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

var schemaTypes = map[string]bool{"object": true, "array": true, "string": true, "number": true, "integer": true, "boolean": true, "null": true}

// checkSchema reports whether schema is a JSON Schema Sluice can validate
// outputs against; the error says which keyword or value it cannot.
func checkSchema(schema []byte) error {
	root, err := decodeNumbers(schema)
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if _, ok := root.(map[string]any); !ok {
		return fmt.Errorf("a schema is a JSON object")
	}
	return checkSchemaNode(root, root, "")
}

func checkSchemaNode(root, node any, at string) error {
	if _, ok := node.(bool); ok {
		return nil
	}
	m, ok := node.(map[string]any)
	if !ok {
		return fmt.Errorf("at %s: a schema is an object or a boolean", pointer(at))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		where := at + "/" + k
		if !schemaKeywords[k] {
			return fmt.Errorf("at %s: keyword %q is not supported by Sluice's validator", pointer(at), k)
		}
		switch k {
		case "type":
			names, ok := typeNames(v)
			if !ok {
				return fmt.Errorf("at %s: type is a name or a list of names", pointer(where))
			}
			for _, n := range names {
				if !schemaTypes[n] {
					return fmt.Errorf("at %s: unknown type %q", pointer(where), n)
				}
			}
		case "properties", "$defs", "definitions":
			sub, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("at %s: %s is an object of schemas", pointer(where), k)
			}
			for name, s := range sub {
				if err := checkSchemaNode(root, s, where+"/"+escapePointer(name)); err != nil {
					return err
				}
			}
		case "additionalProperties", "items", "not":
			if err := checkSchemaNode(root, v, where); err != nil {
				return err
			}
		case "anyOf", "oneOf", "allOf":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return fmt.Errorf("at %s: %s is a non-empty list of schemas", pointer(where), k)
			}
			for i, s := range list {
				if err := checkSchemaNode(root, s, where+"/"+strconv.Itoa(i)); err != nil {
					return err
				}
			}
		case "required":
			list, ok := v.([]any)
			if !ok {
				return fmt.Errorf("at %s: required is a list of names", pointer(where))
			}
			for _, n := range list {
				if _, ok := n.(string); !ok {
					return fmt.Errorf("at %s: required is a list of names", pointer(where))
				}
			}
		case "enum":
			if _, ok := v.([]any); !ok {
				return fmt.Errorf("at %s: enum is a list", pointer(where))
			}
		case "minProperties", "maxProperties", "minItems", "maxItems", "minLength", "maxLength":
			n, ok := number(v)
			if !ok || n < 0 || n != math.Trunc(n) {
				return fmt.Errorf("at %s: %s is a whole number of at least 0", pointer(where), k)
			}
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			if _, ok := number(v); !ok {
				return fmt.Errorf("at %s: %s is a number", pointer(where), k)
			}
		case "multipleOf":
			if n, ok := number(v); !ok || n <= 0 {
				return fmt.Errorf("at %s: multipleOf is a number above 0", pointer(where))
			}
		case "pattern":
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("at %s: pattern is a string", pointer(where))
			}
			if _, err := regexp.Compile(s); err != nil {
				return fmt.Errorf("at %s: pattern %q: %v", pointer(where), s, err)
			}
		case "$ref":
			s, _ := v.(string)
			if _, err := resolveRef(root, s); err != nil {
				return fmt.Errorf("at %s: %w", pointer(where), err)
			}
		}
	}
	return nil
}

// validateJSON reports whether value (a JSON document) satisfies schema,
// which checkSchema accepted. The error names the first place that does
// not, as a JSON pointer, and why.
func validateJSON(schema, value []byte) error {
	root, err := decodeNumbers(schema)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	v, err := decodeNumbers(value)
	if err != nil {
		return fmt.Errorf("the output is not JSON: %w", err)
	}
	return validateNode(root, root, v, "", 0)
}

func validateNode(root, schema, v any, at string, depth int) error {
	if depth > 64 {
		return fmt.Errorf("at %s: the schema's references nest too deep", pointer(at))
	}
	if b, ok := schema.(bool); ok {
		if !b {
			return fmt.Errorf("at %s: no value is allowed here", pointer(at))
		}
		return nil
	}
	m, _ := schema.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		target, err := resolveRef(root, ref)
		if err != nil {
			return err
		}
		if err := validateNode(root, target, v, at, depth+1); err != nil {
			return err
		}
	}
	if t, ok := m["type"]; ok {
		names, _ := typeNames(t)
		match := false
		for _, n := range names {
			if hasType(v, n) {
				match = true
				break
			}
		}
		if !match {
			return fmt.Errorf("at %s: want %s, got %s", pointer(at), strings.Join(names, " or "), jsonType(v))
		}
	}
	if c, ok := m["const"]; ok && !jsonEqual(c, v) {
		return fmt.Errorf("at %s: want %s, got %s", pointer(at), compact(c), compact(v))
	}
	if list, ok := m["enum"].([]any); ok {
		found := false
		for _, e := range list {
			if jsonEqual(e, v) {
				found = true
				break
			}
		}
		if !found {
			opts := make([]string, len(list))
			for i, e := range list {
				opts[i] = compact(e)
			}
			return fmt.Errorf("at %s: %s is not one of %s", pointer(at), compact(v), strings.Join(opts, ", "))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		if err := validateObject(root, m, x, at, depth); err != nil {
			return err
		}
	case []any:
		if n, ok := number(m["minItems"]); ok && float64(len(x)) < n {
			return fmt.Errorf("at %s: %d items, want at least %v", pointer(at), len(x), n)
		}
		if n, ok := number(m["maxItems"]); ok && float64(len(x)) > n {
			return fmt.Errorf("at %s: %d items, want at most %v", pointer(at), len(x), n)
		}
		if items, ok := m["items"]; ok {
			for i, item := range x {
				if err := validateNode(root, items, item, at+"/"+strconv.Itoa(i), depth+1); err != nil {
					return err
				}
			}
		}
	case string:
		n := float64(utf8.RuneCountInString(x))
		if min, ok := number(m["minLength"]); ok && n < min {
			return fmt.Errorf("at %s: %v characters, want at least %v", pointer(at), n, min)
		}
		if max, ok := number(m["maxLength"]); ok && n > max {
			return fmt.Errorf("at %s: %v characters, want at most %v", pointer(at), n, max)
		}
		if p, ok := m["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("schema pattern %q: %v", p, err)
			}
			if !re.MatchString(x) {
				return fmt.Errorf("at %s: %s does not match the pattern %s", pointer(at), compact(x), p)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if n, ok := number(m["minimum"]); ok && f < n {
			return fmt.Errorf("at %s: %s is below the minimum %v", pointer(at), x, n)
		}
		if n, ok := number(m["maximum"]); ok && f > n {
			return fmt.Errorf("at %s: %s is above the maximum %v", pointer(at), x, n)
		}
		if n, ok := number(m["exclusiveMinimum"]); ok && f <= n {
			return fmt.Errorf("at %s: %s is not above %v", pointer(at), x, n)
		}
		if n, ok := number(m["exclusiveMaximum"]); ok && f >= n {
			return fmt.Errorf("at %s: %s is not below %v", pointer(at), x, n)
		}
		if n, ok := number(m["multipleOf"]); ok && n > 0 {
			q := f / n
			if math.Abs(q-math.Round(q)) > 1e-9 {
				return fmt.Errorf("at %s: %s is not a multiple of %v", pointer(at), x, n)
			}
		}
	}
	if list, ok := m["allOf"].([]any); ok {
		for _, s := range list {
			if err := validateNode(root, s, v, at, depth+1); err != nil {
				return err
			}
		}
	}
	if list, ok := m["anyOf"].([]any); ok {
		var first error
		for _, s := range list {
			err := validateNode(root, s, v, at, depth+1)
			if err == nil {
				first = nil
				break
			}
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return fmt.Errorf("at %s: matches none of anyOf (the first says: %v)", pointer(at), first)
		}
	}
	if list, ok := m["oneOf"].([]any); ok {
		n := 0
		for _, s := range list {
			if validateNode(root, s, v, at, depth+1) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("at %s: matches %d of oneOf's schemas, want exactly 1", pointer(at), n)
		}
	}
	if s, ok := m["not"]; ok && validateNode(root, s, v, at, depth+1) == nil {
		return fmt.Errorf("at %s: matches the schema under not", pointer(at))
	}
	return nil
}

func validateObject(root any, m, x map[string]any, at string, depth int) error {
	if n, ok := number(m["minProperties"]); ok && float64(len(x)) < n {
		return fmt.Errorf("at %s: %d properties, want at least %v", pointer(at), len(x), n)
	}
	if n, ok := number(m["maxProperties"]); ok && float64(len(x)) > n {
		return fmt.Errorf("at %s: %d properties, want at most %v", pointer(at), len(x), n)
	}
	if req, ok := m["required"].([]any); ok {
		for _, r := range req {
			name, _ := r.(string)
			if _, ok := x[name]; !ok {
				return fmt.Errorf("at %s: required property %q is missing", pointer(at), name)
			}
		}
	}
	props, _ := m["properties"].(map[string]any)
	names := make([]string, 0, len(x))
	for k := range x {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		where := at + "/" + escapePointer(k)
		if s, ok := props[k]; ok {
			if err := validateNode(root, s, x[k], where, depth+1); err != nil {
				return err
			}
			continue
		}
		if extra, ok := m["additionalProperties"]; ok {
			if b, isBool := extra.(bool); isBool && !b {
				return fmt.Errorf("at %s: property %q is not allowed", pointer(at), k)
			}
			if err := validateNode(root, extra, x[k], where, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolveRef finds a local reference, "#", "#/$defs/NAME" or
// "#/definitions/NAME".
func resolveRef(root any, ref string) (any, error) {
	if ref == "#" {
		return root, nil
	}
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q: only local references (#/$defs/NAME) are supported", ref)
	}
	var node any = root
	for _, seg := range strings.Split(rest, "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q points at nothing", ref)
		}
		if node, ok = m[seg]; !ok {
			return nil, fmt.Errorf("$ref %q points at nothing", ref)
		}
	}
	return node, nil
}

func decodeNumbers(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

func typeNames(v any) ([]string, bool) {
	switch t := v.(type) {
	case string:
		return []string{t}, true
	case []any:
		names := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			names = append(names, s)
		}
		return names, len(names) > 0
	}
	return nil, false
}

func hasType(v any, name string) bool {
	switch x := v.(type) {
	case nil:
		return name == "null"
	case bool:
		return name == "boolean"
	case string:
		return name == "string"
	case []any:
		return name == "array"
	case map[string]any:
		return name == "object"
	case json.Number:
		if name == "number" {
			return true
		}
		if name == "integer" {
			f, err := x.Float64()
			return err == nil && f == math.Trunc(f) && !math.IsInf(f, 0)
		}
	}
	return false
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if hasType(x, "integer") {
			return "integer"
		}
		return "number"
	}
	return "unknown"
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// jsonEqual compares two decoded JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	if na, ok := a.(json.Number); ok {
		nb, ok := b.(json.Number)
		if !ok {
			return false
		}
		fa, _ := na.Float64()
		fb, _ := nb.Float64()
		return fa == fb
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

func pointer(at string) string {
	if at == "" {
		return "the top level"
	}
	return at
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
