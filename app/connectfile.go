package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Editing a tool's config file in place: `sluice connect TOOL --write` sets
// what the recipe needs and keeps every other setting; the file as it was
// before Sluice first touched it is kept beside it (NAME.before-sluice, or
// NAME.before-sluice.none when there was no file), and `--undo` puts it
// back.

// ToolFiles finds tools' config files. Its zero value uses the real home
// directory and environment.
type ToolFiles struct {
	// Home is the user's home directory; "" means os.UserHomeDir.
	Home string
	// Getenv reads the environment (CODEX_HOME, CLAUDE_CONFIG_DIR,
	// XDG_CONFIG_HOME); nil means os.Getenv.
	Getenv func(string) string
}

func (tf ToolFiles) getenv(k string) string {
	if tf.Getenv != nil {
		return tf.Getenv(k)
	}
	return os.Getenv(k)
}

// Path is where tool reads its config file on this machine.
func (tf ToolFiles) Path(tool string) (string, error) {
	home := tf.Home
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the home directory: %w", err)
		}
		home = h
	}
	switch tool {
	case "claude-code":
		if d := tf.getenv("CLAUDE_CONFIG_DIR"); d != "" {
			return filepath.Join(d, "settings.json"), nil
		}
		return filepath.Join(home, ".claude", "settings.json"), nil
	case "codex":
		if d := tf.getenv("CODEX_HOME"); d != "" {
			return filepath.Join(d, "config.toml"), nil
		}
		return filepath.Join(home, ".codex", "config.toml"), nil
	case "aider":
		return filepath.Join(home, ".aider.conf.yml"), nil
	case "opencode":
		dir := tf.getenv("XDG_CONFIG_HOME")
		if dir == "" {
			dir = filepath.Join(home, ".config")
		}
		return filepath.Join(dir, "opencode", "opencode.json"), nil
	}
	return "", fmt.Errorf("sluice connect cannot write %s's config: copy the lines it prints instead", tool)
}

const backupSuffix = ".before-sluice"

// WriteResult says what a write or an undo did.
type WriteResult struct {
	Path   string
	Backup string // the file kept as it was before Sluice, "" when none
}

// Write edits the tool's config file so that it holds r, keeping its other
// settings. A file that cannot be read as its format is left alone.
func (tf ToolFiles) Write(r Recipe) (WriteResult, error) {
	if r.File == nil || !r.File.Writable {
		return WriteResult{}, fmt.Errorf("%s has no config file sluice connect can write: copy the lines it prints instead", r.Title)
	}
	path, err := tf.Path(r.Tool)
	if err != nil {
		return WriteResult{}, err
	}
	old, err := os.ReadFile(path)
	existed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return WriteResult{}, fmt.Errorf("read %s: %w", path, err)
	}
	var out []byte
	switch r.Tool {
	case "claude-code":
		out, err = setJSONPath(old, []string{"env"}, envObject(r.Env))
	case "codex":
		out, err = setCodexProvider(old, r.File.Block)
	case "aider":
		out, err = setYAMLKeys(old, r.File.Block)
	case "opencode":
		out, err = mergeJSONBlock(old, r.File.Block)
	default:
		err = fmt.Errorf("sluice connect cannot write %s's config", r.Tool)
	}
	if err != nil {
		return WriteResult{}, fmt.Errorf("%s: %w; nothing was changed", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return WriteResult{}, err
	}
	res := WriteResult{Path: path}
	// Keep the file as it was before Sluice's first write; a later write
	// (a new token) keeps that first backup.
	switch {
	case fileExists(path + backupSuffix):
		res.Backup = path + backupSuffix
	case fileExists(path + backupSuffix + ".none"):
	case existed:
		res.Backup = path + backupSuffix
		if err := writeFileAtomic(res.Backup, old, 0o600); err != nil {
			return WriteResult{}, fmt.Errorf("keep a backup of %s: %w; nothing was changed", path, err)
		}
	default:
		if err := os.WriteFile(path+backupSuffix+".none", nil, 0o600); err != nil {
			return WriteResult{}, fmt.Errorf("note that %s is new: %w; nothing was changed", path, err)
		}
	}
	// The file may hold the local token: keep it the user's own.
	if err := writeFileAtomic(path, out, 0o600); err != nil {
		return WriteResult{}, err
	}
	return res, nil
}

// Undo puts back the tool's config file as it was before Sluice first
// wrote it (removing it when Sluice made it).
func (tf ToolFiles) Undo(tool string) (WriteResult, error) {
	path, err := tf.Path(tool)
	if err != nil {
		return WriteResult{}, err
	}
	res := WriteResult{Path: path}
	switch {
	case fileExists(path + backupSuffix):
		b, err := os.ReadFile(path + backupSuffix)
		if err != nil {
			return res, err
		}
		mode := fs.FileMode(0o600)
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
		if err := writeFileAtomic(path, b, mode); err != nil {
			return res, err
		}
		res.Backup = path + backupSuffix
		return res, os.Remove(path + backupSuffix)
	case fileExists(path + backupSuffix + ".none"):
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, err
		}
		return res, os.Remove(path + backupSuffix + ".none")
	}
	return res, fmt.Errorf("%s: sluice connect has not written it (no %s beside it), so there is nothing to undo", path, filepath.Base(path)+backupSuffix)
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory, so a crash leaves the old file or the new one.
func writeFileAtomic(path string, b []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// tomlString is a TOML basic string; JSON's escapes are TOML's for the
// characters that need them.
func tomlString(s string) string { return jsonString(s) }

// yamlString is a YAML double-quoted scalar, which JSON's string syntax is.
func yamlString(s string) string { return jsonString(s) }

// member is one member of a JSON object, in the file's order.
type member struct {
	key string
	val json.RawMessage
}

// parseObject reads a JSON object keeping its members' order. Empty input
// is an empty object.
func parseObject(b []byte) ([]member, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var ms []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		ms = append(ms, member{k, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("not JSON: more after the object")
	}
	return ms, nil
}

// encodeObject writes members as an indented JSON object.
func encodeObject(ms []member) []byte {
	var b bytes.Buffer
	if len(ms) == 0 {
		return []byte("{}\n")
	}
	b.WriteString("{\n")
	for i, m := range ms {
		var v bytes.Buffer
		if err := json.Indent(&v, m.val, "  ", "  "); err != nil {
			v.Reset()
			v.Write(m.val)
		}
		fmt.Fprintf(&b, "  %s: %s", jsonString(m.key), v.Bytes())
		if i < len(ms)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// envObject is env as the members to set in a JSON object.
func envObject(env []EnvVar) []member {
	ms := make([]member, len(env))
	for i, v := range env {
		ms[i] = member{v.Name, json.RawMessage(jsonString(v.Value))}
	}
	return ms
}

// setJSONPath sets members set inside the object at path of the JSON
// object doc, keeping every other member and their order.
func setJSONPath(doc []byte, path []string, set []member) ([]byte, error) {
	ms, err := parseObject(doc)
	if err != nil {
		return nil, err
	}
	if len(path) == 0 {
		for _, s := range set {
			ms = putMember(ms, s)
		}
		return encodeObject(ms), nil
	}
	var inner []byte
	for _, m := range ms {
		if m.key == path[0] {
			inner = m.val
		}
	}
	if inner != nil && !bytes.HasPrefix(bytes.TrimSpace(inner), []byte("{")) {
		return nil, fmt.Errorf("%q is not an object", path[0])
	}
	nv, err := setJSONPath(inner, path[1:], set)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path[0], err)
	}
	return encodeObject(putMember(ms, member{path[0], bytes.TrimSpace(nv)})), nil
}

func putMember(ms []member, m member) []member {
	for i := range ms {
		if ms[i].key == m.key {
			ms[i].val = m.val
			return ms
		}
	}
	return append(ms, m)
}

// mergeJSONBlock merges the object block into doc, member by member, down
// to the leaves: the block's leaves win, every other member of doc stays.
func mergeJSONBlock(doc []byte, block string) ([]byte, error) {
	ms, err := parseObject(doc)
	if err != nil {
		return nil, err
	}
	bs, err := parseObject([]byte(block))
	if err != nil {
		return nil, fmt.Errorf("recipe block: %w", err)
	}
	out, err := mergeMembers(ms, bs)
	if err != nil {
		return nil, err
	}
	return encodeObject(out), nil
}

func mergeMembers(ms, bs []member) ([]member, error) {
	for _, b := range bs {
		var cur json.RawMessage
		for _, m := range ms {
			if m.key == b.key {
				cur = m.val
			}
		}
		isObj := func(v json.RawMessage) bool { return bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) }
		if cur != nil && isObj(cur) && isObj(b.val) {
			cm, err := parseObject(cur)
			if err != nil {
				return nil, err
			}
			bm, err := parseObject(b.val)
			if err != nil {
				return nil, err
			}
			merged, err := mergeMembers(cm, bm)
			if err != nil {
				return nil, err
			}
			ms = putMember(ms, member{b.key, bytes.TrimSpace(encodeObject(merged))})
			continue
		}
		ms = putMember(ms, b)
	}
	return ms, nil
}

var tomlHeader = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$`)

// setCodexProvider edits Codex's config.toml text: the root's
// model_provider becomes the recipe's, and the recipe's
// [model_providers.NAME] table replaces any table of that name. Other lines,
// comments included, stay as they were.
func setCodexProvider(doc []byte, block string) ([]byte, error) {
	if !utf8Text(doc) {
		return nil, errors.New("not a text file")
	}
	root, table, ok := strings.Cut(block, "\n\n")
	if !ok {
		return nil, errors.New("recipe block has no table")
	}
	tableName := ""
	if m := tomlHeader.FindStringSubmatch(strings.SplitN(table, "\n", 2)[0]); m != nil {
		tableName = m[1]
	}
	lines := strings.Split(strings.ReplaceAll(string(doc), "\r\n", "\n"), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var out []string
	inRoot, skip, multi := true, false, ""
	for _, l := range lines {
		if multi != "" {
			// Inside a multi-line string: never a header or a key.
			if strings.Count(l, multi)%2 == 1 {
				multi = ""
			}
			if !skip {
				out = append(out, l)
			}
			continue
		}
		if m := tomlHeader.FindStringSubmatch(l); m != nil && !strings.Contains(strings.SplitN(l, "#", 2)[0], "=") {
			inRoot = false
			skip = normalizeTOMLKey(m[1]) == normalizeTOMLKey(tableName)
		}
		for _, q := range []string{`"""`, `'''`} {
			if strings.Count(l, q)%2 == 1 {
				multi = q
			}
		}
		if skip {
			continue
		}
		if inRoot && isTOMLKey(l, "model_provider") {
			continue
		}
		out = append(out, l)
	}
	if multi != "" {
		return nil, errors.New("a multi-line string is not closed")
	}
	// The root key first; the table last.
	res := strings.TrimRight(root, "\n") + "\n"
	body := strings.TrimRight(strings.Join(out, "\n"), "\n")
	if body != "" {
		res += body + "\n"
	}
	res += "\n" + strings.TrimRight(table, "\n") + "\n"
	return []byte(res), nil
}

func isTOMLKey(line, key string) bool {
	k, _, ok := strings.Cut(line, "=")
	if !ok {
		return false
	}
	k = strings.TrimSpace(k)
	if uq, err := strconv.Unquote(k); err == nil {
		k = uq
	}
	return k == key
}

// normalizeTOMLKey makes a dotted key comparable: no spaces around dots, no
// quotes around plain parts.
func normalizeTOMLKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if uq, err := strconv.Unquote(p); err == nil {
			p = uq
		} else if len(p) >= 2 && p[0] == '\'' && p[len(p)-1] == '\'' {
			p = p[1 : len(p)-1]
		}
		parts[i] = p
	}
	return strings.Join(parts, ".")
}

func utf8Text(b []byte) bool { return !bytes.ContainsRune(b, 0) }

// setYAMLKeys sets the top-level keys of block ("key: value" lines) in the
// YAML document doc: a top-level line of the same key is replaced, a
// missing one appended. Other lines stay as they were.
func setYAMLKeys(doc []byte, block string) ([]byte, error) {
	if !utf8Text(doc) {
		return nil, errors.New("not a text file")
	}
	type kv struct{ key, line string }
	var set []kv
	for _, l := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		k, _, _ := strings.Cut(l, ":")
		set = append(set, kv{strings.TrimSpace(k), l})
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(doc), "\r\n", "\n"), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		lines = nil
	}
	done := map[string]bool{}
	for i, l := range lines {
		if l == "" || l[0] == ' ' || l[0] == '\t' || l[0] == '#' || l[0] == '-' {
			continue
		}
		k, _, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k = strings.Trim(strings.TrimSpace(k), `"'`)
		for _, s := range set {
			if s.key == k {
				lines[i] = s.line
				done[k] = true
			}
		}
	}
	for _, s := range set {
		if !done[s.key] {
			lines = append(lines, s.line)
		}
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}
