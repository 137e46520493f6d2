package app

import (
	"fmt"
	"os"
	"path/filepath"
)

// path is the LaunchAgent: ~/Library/LaunchAgents/dev.sluice.desktop.plist,
// which launchd loads at the next login.
func (a Autostart) path() (string, error) {
	dir := a.Dir
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("start at login: %w", err)
		}
		dir = filepath.Join(home, "Library", "LaunchAgents")
	}
	return filepath.Join(dir, launchAgentID+".plist"), nil
}

func (a Autostart) entry(exe string, args []string) (string, []byte, error) {
	path, err := a.path()
	return path, launchAgent(exe, args), err
}
