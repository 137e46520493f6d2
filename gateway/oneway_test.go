package gateway

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOneWayOut keeps doc.go's rule that Proxy.fail is the one way out:
// no other function of the package sets the headers of Sluice's own error
// answers (X-Sluice-Error, and the X-Should-Retry rule), so that no exit
// can answer without the log line and the row fail keeps, or say
// something else about retrying.
func TestOneWayOut(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			isFail := fn.Name.Name == "fail" && fn.Recv != nil
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Set" && sel.Sel.Name != "Add") {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				h, _ := strconv.Unquote(lit.Value)
				if (strings.EqualFold(h, "X-Sluice-Error") || strings.EqualFold(h, "X-Should-Retry")) && !isFail {
					t.Errorf("%s: %s sets %s: only Proxy.fail answers Sluice's own errors", fset.Position(call.Pos()), fn.Name.Name, h)
				}
				return true
			})
		}
	}
}
