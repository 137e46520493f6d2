package gateway

import (
	"strings"
	"testing"
)

func TestValidateJSON(t *testing.T) {
	const schema = `{
	  "$defs": {"tag": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"}},
	  "type": "object",
	  "properties": {
	    "title": {"type": "string"},
	    "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
	    "count": {"type": "integer", "multipleOf": 2},
	    "tags":  {"type": "array", "items": {"$ref": "#/$defs/tag"}, "minItems": 1, "maxItems": 3},
	    "kind":  {"const": "note"},
	    "note":  {"type": ["string", "null"]},
	    "either": {"anyOf": [{"type": "integer"}, {"type": "string", "format": "date"}]},
	    "one": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
	    "notbool": {"not": {"type": "boolean"}},
	    "meta": {"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 2}
	  },
	  "required": ["title", "kind"],
	  "additionalProperties": false
	}`
	if err := checkSchema([]byte(schema)); err != nil {
		t.Fatalf("checkSchema = %v", err)
	}
	cases := []struct {
		value string
		want  string // "" means valid
	}{
		{`{"title":"a","kind":"note"}`, ""},
		{`{"title":"a","kind":"note","score":0.5,"count":4,"tags":["ab","xyz"],"note":null,"either":"2026-01-01","one":1.5,"notbool":"x","meta":{"a":1}}`, ""},
		{`{"kind":"note"}`, `required property "title" is missing`},
		{`{"title":3,"kind":"note"}`, "at /title: want string, got integer"},
		{`{"title":"a","kind":"memo"}`, `want "note", got "memo"`},
		{`{"title":"a","kind":"note","x":1}`, `property "x" is not allowed`},
		{`{"title":"a","kind":"note","score":0}`, "is not above 0"},
		{`{"title":"a","kind":"note","score":1.5}`, "above the maximum"},
		{`{"title":"a","kind":"note","count":3}`, "not a multiple of 2"},
		{`{"title":"a","kind":"note","count":2.5}`, "want integer, got number"},
		{`{"title":"a","kind":"note","tags":[]}`, "0 items, want at least 1"},
		{`{"title":"a","kind":"note","tags":["a"]}`, "at /tags/0: 1 characters, want at least 2"},
		{`{"title":"a","kind":"note","tags":["Ab"]}`, "does not match the pattern"},
		{`{"title":"a","kind":"note","note":1}`, "want string or null"},
		{`{"title":"a","kind":"note","either":true}`, "matches none of anyOf"},
		{`{"title":"a","kind":"note","one":2}`, "matches 2 of oneOf"},
		{`{"title":"a","kind":"note","notbool":false}`, "under not"},
		{`{"title":"a","kind":"note","meta":{"a":"x"}}`, "at /meta/a: want integer"},
		{`{"title":"a","kind":"note","meta":{"a":1,"b":2,"c":3}}`, "3 properties, want at most 2"},
		{`[]`, "at the top level: want object, got array"},
		{`{"title":"a"} trailing`, "not JSON"},
	}
	for _, c := range cases {
		err := validateJSON([]byte(schema), []byte(c.value))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("validateJSON(%s) = %v, want valid", c.value, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("validateJSON(%s) = %v, want an error saying %q", c.value, err, c.want)
		}
	}
}

func TestCheckSchemaRefusesWhatItCannotValidate(t *testing.T) {
	for schema, want := range map[string]string{
		`{"type":"object","patternProperties":{"^x":{}}}`: `keyword "patternProperties"`,
		`{"properties":{"a":{"uniqueItems":true}}}`:       `at /properties/a: keyword "uniqueItems"`,
		`{"type":"strin"}`:                      `unknown type "strin"`,
		`{"$ref":"https://example.com/s.json"}`: "only local references",
		`{"$ref":"#/$defs/missing"}`:            "points at nothing",
		`{"pattern":"(?<=x)"}`:                  "pattern",
		`{"minLength":-1}`:                      "whole number",
		`[]`:                                    "a schema is a JSON object",
		`{`:                                     "not JSON",
	} {
		if err := checkSchema([]byte(schema)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkSchema(%s) = %v, want an error saying %q", schema, err, want)
		}
	}
}
