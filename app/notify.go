package app

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
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

// notifyQueue is how many notices may wait for a slow Notify; past it,
// new ones are dropped and counted.
const notifyQueue = 32

// notifyFlush bounds how long a stopping gateway waits for the notices
// still queued to be shown.
const notifyFlush = 5 * time.Second

// notifier shows items (notices, log lines) with show on a goroutine of
// its own, one at a time, so that a slow show (a desktop notification may
// wait seconds on a shell command, a log pipe may never be read) or a
// failing one never delays whoever raised the item: a request that
// settled past a budget or failed, the feed of settled records.
//
// Items wait in a queue of a fixed size. When it is full, the newest item
// is dropped and counted, not shown (the dashboard lists every notice
// anyway: the Hub keeps them), and once the queue has drained one more
// item says how many were not shown. close shows what is still queued,
// for up to a deadline, and ends the goroutine.
//
// A notifier is safe for concurrent use.
type notifier[T any] struct {
	show func(T)
	// missed is the item that says n items were dropped, the last one
	// shown being last.
	missed func(n int, last T) T
	queue  chan T
	stop   chan struct{} // closed when close gives up waiting
	done   chan struct{} // closed when the goroutine has ended

	mu      sync.Mutex // guards closed, dropped and the sending on queue
	closed  bool
	dropped int
}

// startNotifier starts the goroutine that calls show, with a queue of
// size; it ends with close. missed makes the item shown once the queue has
// drained after drops.
func startNotifier[T any](size int, show func(T), missed func(n int, last T) T) *notifier[T] {
	q := &notifier[T]{show: show, missed: missed, queue: make(chan T, size), stop: make(chan struct{}), done: make(chan struct{})}
	go q.run()
	return q
}

// send queues n to be shown, or drops it when the queue is full or
// closed. It never blocks.
func (q *notifier[T]) send(n T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.dropped++
		return
	}
	select {
	case q.queue <- n:
	default:
		q.dropped++
	}
}

func (q *notifier[T]) run() {
	defer close(q.done)
	for n := range q.queue {
		select {
		case <-q.stop:
			continue // out of time: what is left is not shown
		default:
		}
		q.show(n)
		if len(q.queue) > 0 {
			continue
		}
		q.mu.Lock()
		missed := q.dropped
		q.dropped = 0
		q.mu.Unlock()
		if missed > 0 {
			q.show(q.missed(missed, n))
		}
	}
}

// close stops taking notices, shows those queued for up to wait, and
// returns once the goroutine has ended or wait has passed; then a show
// still running is the last.
func (q *notifier[T]) close(wait time.Duration) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	close(q.queue)
	q.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-q.done:
	case <-t.C:
		close(q.stop)
	}
}

// missedNotice says that n notices were not shown natively, after last.
func missedNotice(n int, last Notice) Notice {
	return Notice{Time: last.Time, Kind: "missed", Title: fmt.Sprintf("%d more notice(s)", n),
		Message: "Sluice raised more notices than the desktop could show in time; the dashboard's Notices list has every one."}
}
