// Command render fills in one of Wails' build templates (build/darwin/
// Info.plist, build/windows/info.json...) from wails.json, the way wails
// build does, for the packages build/package.sh lays out itself (the macOS
// .app bundle, which wails build makes only on a Mac).
//
// Usage: go run ./render WAILS.JSON TEMPLATE > OUT
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

// project is the part of wails.json that the templates use, under the
// names Wails gives them ({{.Name}}, {{.Info.ProductVersion}}...).
type project struct {
	Name string `json:"name"`
	Info struct {
		CompanyName      string `json:"companyName"`
		ProductName      string `json:"productName"`
		ProductVersion   string `json:"productVersion"`
		Copyright        string `json:"copyright"`
		Comments         string `json:"comments"`
		FileAssociations []struct {
			Ext, Name, Description, IconName, Role string
		} `json:"fileAssociations"`
		Protocols []struct {
			Scheme, Description, Role string
		} `json:"protocols"`
	} `json:"info"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: render WAILS.JSON TEMPLATE > OUT")
		os.Exit(2)
	}
	if err := render(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func render(projectFile, templateFile string) error {
	b, err := os.ReadFile(projectFile)
	if err != nil {
		return err
	}
	var p project
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("read %s: %w", projectFile, err)
	}
	t, err := template.New("").Option("missingkey=error").ParseFiles(templateFile)
	if err != nil {
		return err
	}
	return t.ExecuteTemplate(os.Stdout, t.Templates()[0].Name(), p)
}
