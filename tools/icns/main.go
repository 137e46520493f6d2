// Command icns writes a macOS icon file (.icns) from a square PNG, for the
// .app bundle that build/package.sh lays out on a machine without macOS's
// own iconutil.
//
// Usage: go run ./icns IN.png OUT.icns
package main

import (
	"fmt"
	"image/png"
	"os"

	"github.com/jackmordaunt/icns"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: icns IN.png OUT.icns")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "icns:", err)
		os.Exit(1)
	}
}

func convert(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", in, err)
	}
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := icns.Encode(w, img); err != nil {
		w.Close()
		return fmt.Errorf("write %s: %w", out, err)
	}
	return w.Close()
}
