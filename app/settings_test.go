package app

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// TestSettingsDefaults: the API's settings carry what each value left
// unset stands for, from the gateway's constants, beside the settings
// themselves, so the settings page copies none of them; settings.put
// ignores them.
func TestSettingsDefaults(t *testing.T) {
	db := testDB(t)
	s := &Service{DB: db}
	ctx := context.Background()
	for _, m := range []string{"settings", "settings.put"} {
		arg := json.RawMessage(`{"unpriced_policy":"refuse","retention_days":7,"defaults":{"loop_limit":99}}`)
		if m == "settings" {
			arg = nil
		}
		got, err := methods[m](ctx, s, arg)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		b, _ := json.Marshal(got)
		var reply struct {
			RetentionDays int              `json:"retention_days"`
			Defaults      settingsDefaults `json:"defaults"`
		}
		if err := json.Unmarshal(b, &reply); err != nil {
			t.Fatal(err)
		}
		d := reply.Defaults
		if d.UnpricedHold != gateway.DefaultUnpricedHold || d.LoopLimit != gateway.DefaultLoopLimit || d.LoopLimitMax != gateway.MaxLoopLimit ||
			time.Duration(d.LoopWindow)*time.Second != gateway.DefaultLoopWindow || time.Duration(d.LoopWindowMax)*time.Second != gateway.MaxLoopWindow ||
			time.Duration(d.FallbackAfter)*time.Second != gateway.DefaultFallbackAfter || time.Duration(d.SessionHours)*time.Hour != defaultSessionIdle ||
			d.Soft != gateway.DefaultSoft {
			t.Errorf("%s: defaults = %+v, want the gateway's", m, d)
		}
		if m == "settings.put" && reply.RetentionDays != 7 {
			t.Errorf("settings.put answered retention %d, want the settings saved", reply.RetentionDays)
		}
	}
	if set, err := db.Settings(); err != nil || set.LoopLimit != 0 {
		t.Errorf("saved settings = %+v, %v: the defaults sent back were taken as settings", set, err)
	}
}
