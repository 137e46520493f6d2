package gateway

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneWayOut keeps doc.go's rule that Proxy.fail is the one way out:
// no other function of the package writes an error answer of Sluice's
// own, so that no exit can answer without the log line and the row fail
// keeps, or say something else about retrying. Outside (*Proxy).fail, no
// function of the package
//   - uses a method named errorBody (the shape of Sluice's own errors),
//     except translateErrorBody, which writes a provider's error in the
//     caller's shape;
//   - uses http.Error, http.NotFound or http.NotFoundHandler;
//   - calls WriteHeader with a constant status of 400 or more;
//   - sets the headers of Sluice's own errors (X-Sluice-Error,
//     X-Should-Retry) by a constant name.
func TestOneWayOut(t *testing.T) {
	for _, v := range oneWayViolations(t, ".") {
		t.Error(v)
	}
}

// oneWayOutAllowed names the functions, other than (*Proxy).fail, that may
// shape an error with errorBody, and why.
var oneWayOutAllowed = map[string]string{
	// A provider's error answer, translated into the caller's format: the
	// provider's words, not Sluice's own error.
	"translateErrorBody": "errorBody",
}

// oneWayViolations type-checks the non-test Go files in dir as one
// package and lists every way out of the request path other than
// (*Proxy).fail.
func oneWayViolations(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{
		Types: map[ast.Expr]types.TypeAndValue{},
		Uses:  map[*ast.Ident]types.Object{},
		Defs:  map[*ast.Ident]types.Object{},
	}
	conf := types.Config{Importer: importer.Default()}
	if _, err := conf.Check("gateway", fset, files, info); err != nil {
		t.Fatalf("type-check the package: %v", err)
	}

	var bad []string
	report := func(n ast.Node, fn, format string, args ...any) {
		bad = append(bad, fset.Position(n.Pos()).String()+": "+fn+" "+
			fmt.Sprintf(format, args...)+": only (*Proxy).fail answers Sluice's own errors")
	}
	sawFail := false
	for _, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			name := fn.Name.Name
			if fn.Recv != nil {
				name = "(" + types.ExprString(fn.Recv.List[0].Type) + ")." + name
			}
			// Only the Proxy's fail is the way out: a method named fail
			// on another receiver is held to the rule like any function.
			if name == "(*Proxy).fail" {
				sawFail = true
				continue
			}
			allowed := oneWayOutAllowed[name]
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					if n.Sel.Name == "errorBody" && allowed != "errorBody" {
						report(n, name, "uses %s", types.ExprString(n))
					}
					if obj, ok := info.Uses[n.Sel].(*types.Func); ok && obj.Pkg() != nil && obj.Pkg().Path() == "net/http" {
						switch obj.Name() {
						case "Error", "NotFound", "NotFoundHandler":
							report(n, name, "uses http.%s", obj.Name())
						}
					}
				case *ast.CallExpr:
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok || len(n.Args) == 0 {
						return true
					}
					tv := info.Types[n.Args[0]]
					switch sel.Sel.Name {
					case "WriteHeader":
						if tv.Value != nil && tv.Value.Kind() == constant.Int {
							if st, ok := constant.Int64Val(tv.Value); ok && st >= 400 {
								report(n, name, "calls WriteHeader(%d)", st)
							}
						}
					case "Set", "Add":
						if tv.Value != nil && tv.Value.Kind() == constant.String {
							h := constant.StringVal(tv.Value)
							if strings.EqualFold(h, "X-Sluice-Error") || strings.EqualFold(h, "X-Should-Retry") {
								report(n, name, "sets %s", h)
							}
						}
					}
				}
				return true
			})
		}
	}
	if !sawFail {
		bad = append(bad, "no (*Proxy).fail in "+dir)
	}
	return bad
}
