//go:build !desktop

package main

import "fmt"

// desktop, in a build without the window (no desktop tag), serves the
// dashboard in the browser instead.
func (c *cli) desktop(args []string) error {
	fmt.Fprintln(c.stderr, "sluice: this build has no desktop window (build with -tags desktop,production); serving the dashboard for a browser instead")
	return c.serve(args)
}
