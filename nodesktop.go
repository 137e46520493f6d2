//go:build !desktop && !dev && !bindings

package main

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/app"
)

// desktop, in a build without the window (no desktop tag), serves the
// dashboard in the browser instead. --hidden, as a start at login passes
// it, is taken and means nothing more here: there is no window to hide.
func (c *cli) desktop(args []string) error {
	fs := c.flags("sluice")
	fs.String("addr", app.DefaultAddr, "address to listen on")
	hidden := fs.Bool("hidden", false, "start without showing the window (as at login)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if !*hidden {
		fmt.Fprintln(c.stderr, "sluice: this build has no desktop window (build with -tags desktop,production); serving the dashboard for a browser instead")
	}
	return c.serve(withoutFlag(args, "hidden"))
}

// withoutFlag returns args less the boolean flag name in any of its
// forms (-name, --name, --name=false).
func withoutFlag(args []string, name string) []string {
	var out []string
	for _, a := range args {
		f := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "-") && (f == name || strings.HasPrefix(f, name+"=")) {
			continue
		}
		out = append(out, a)
	}
	return out
}
