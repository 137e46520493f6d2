package app

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// NotifyNative shows n as a desktop notification with the system's own
// tool (notify-send on Linux and the BSDs, osascript on macOS, a toast
// through PowerShell on Windows). It gives up quietly, after at most five
// seconds, where there is none: the dashboard shows every notice too.
func NotifyNative(n Notice) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.CommandContext(ctx, "osascript", "-e",
			"display notification "+appleQuote(n.Message)+" with title "+appleQuote("Sluice: "+n.Title))
	case "windows":
		script := `[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime] > $null;` +
			`$x = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent([Windows.UI.Notifications.ToastTemplateType]::ToastText02);` +
			`$t = $x.GetElementsByTagName('text'); $t.Item(0).AppendChild($x.CreateTextNode($env:SLUICE_TITLE)) > $null;` +
			`$t.Item(1).AppendChild($x.CreateTextNode($env:SLUICE_MESSAGE)) > $null;` +
			`[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier('Sluice').Show([Windows.UI.Notifications.ToastNotification]::new($x))`
		cmd = exec.CommandContext(ctx, "powershell", "-NoProfile", "-NonInteractive", "-Command", script)
		cmd.Env = append(cmd.Environ(), "SLUICE_TITLE="+n.Title, "SLUICE_MESSAGE="+n.Message)
	default:
		cmd = exec.CommandContext(ctx, "notify-send", "--app-name=Sluice", "Sluice: "+n.Title, n.Message)
	}
	cmd.Run()
}

func appleQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
