//go:build !windows && !darwin

package app

import (
	"fmt"
	"os"
	"path/filepath"
)

// path is the XDG autostart entry: $XDG_CONFIG_HOME/autostart/sluice.desktop.
func (a Autostart) path() (string, error) {
	dir := a.Dir
	if dir == "" {
		cfg, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("start at login: %w", err)
		}
		dir = filepath.Join(cfg, "autostart")
	}
	return filepath.Join(dir, autostartFile), nil
}

func (a Autostart) entry(exe string, args []string) (string, []byte, error) {
	path, err := a.path()
	return path, desktopEntry(exe, args), err
}
