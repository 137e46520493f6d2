package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

func TestPromptVersionsAndRollback(t *testing.T) {
	clock := newClock(t0)
	db, path := openTest(t, Options{Now: clock.Now})
	put := func(p gateway.Prompt) gateway.Prompt {
		t.Helper()
		clock.Add(time.Minute)
		out, err := db.PutPrompt(p)
		if err != nil {
			t.Fatalf("PutPrompt(%+v) = %v", p, err)
		}
		return out
	}
	v1 := put(gateway.Prompt{Name: "summarize", Model: "gpt-4o-mini", Template: "Summarize: {{text}}"})
	if v1.Version != 1 || !v1.Created.Equal(t0.Add(time.Minute)) {
		t.Errorf("first version = %+v, want v1 at %s", v1, t0.Add(time.Minute))
	}
	v2 := put(gateway.Prompt{Name: "summarize", Model: "claude-haiku-4-5", Template: "Summarize in {{n}} words: {{text}}"})
	put(gateway.Prompt{Name: "other", Model: "gpt-4o-mini", Template: "{{text}}"})
	if v2.Version != 2 {
		t.Errorf("second version = %d, want 2", v2.Version)
	}
	if _, err := db.PutPrompt(gateway.Prompt{Name: "Bad Name", Model: "m", Template: "t"}); !errors.Is(err, ErrInvalid) || !errors.Is(err, gateway.ErrInvalidPrompt) {
		t.Errorf("PutPrompt(bad name) = %v, want ErrInvalid and gateway.ErrInvalidPrompt", err)
	}

	cur, err := db.Prompt(context.Background(), "summarize")
	if err != nil || cur.Version != 2 || cur.Model != "claude-haiku-4-5" {
		t.Fatalf("current = %+v, %v; want v2", cur, err)
	}
	old, err := db.PromptVersion("summarize", 1)
	if err != nil || old.Template != "Summarize: {{text}}" {
		t.Errorf("PromptVersion(1) = %+v, %v", old, err)
	}
	if _, err := db.PromptVersion("summarize", 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("PromptVersion(9) = %v, want ErrNotFound", err)
	}

	// Rolling back adds a version: a copy of the one before.
	rb, err := db.RollbackPrompt("summarize", 0)
	if err != nil || rb.Version != 3 || rb.Model != "gpt-4o-mini" || rb.Template != "Summarize: {{text}}" || rb.Note != "rollback to v1" {
		t.Fatalf("RollbackPrompt = %+v, %v; want v3, a copy of v1", rb, err)
	}
	if rb, err = db.RollbackPrompt("summarize", 2); err != nil || rb.Version != 4 || rb.Model != "claude-haiku-4-5" {
		t.Fatalf("RollbackPrompt(to 2) = %+v, %v; want v4, a copy of v2", rb, err)
	}
	if _, err := db.RollbackPrompt("summarize", 4); !errors.Is(err, ErrInvalid) {
		t.Errorf("RollbackPrompt(to the current) = %v, want ErrInvalid", err)
	}
	if _, err := db.RollbackPrompt("summarize", 7); !errors.Is(err, ErrNotFound) {
		t.Errorf("RollbackPrompt(to 7) = %v, want ErrNotFound", err)
	}

	// Removing keeps the versions; rollback restores.
	if err := db.DeletePrompt("summarize"); err != nil {
		t.Fatal(err)
	}
	// The store says what happened; how to restore it is the command
	// line's word (see main_prompt_test.go).
	if _, err := db.Prompt(context.Background(), "summarize"); !errors.Is(err, gateway.ErrNoPrompt) || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "was removed") || strings.Contains(err.Error(), "sluice ") {
		t.Errorf("Prompt after removal = %v, want ErrNoPrompt saying it was removed, in no command's words", err)
	}
	ls, _ := db.ListPrompts()
	if len(ls) != 1 || ls[0].Name != "other" {
		t.Errorf("ListPrompts = %+v, want only other", ls)
	}
	if err := db.DeletePrompt("summarize"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second removal = %v, want ErrNotFound", err)
	}
	if rb, err = db.RollbackPrompt("summarize", 0); err != nil || rb.Version != 6 || rb.Model != "claude-haiku-4-5" || rb.Deleted {
		t.Fatalf("RollbackPrompt after removal = %+v, %v; want v6, the version removed", rb, err)
	}
	// Setting it again goes on from the last version.
	if v := put(gateway.Prompt{Name: "summarize", Model: "gpt-4o", Template: "{{text}}"}); v.Version != 7 {
		t.Errorf("set after rollback = v%d, want v7", v.Version)
	}
	vs, err := db.PromptVersions("summarize")
	if err != nil || len(vs) != 7 || !vs[4].Deleted {
		t.Errorf("PromptVersions = %d versions (%v), want 7 with v5 the removal", len(vs), err)
	}

	// All of it survives a restart.
	db.Close()
	db2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if p, err := db2.GetPrompt("summarize"); err != nil || p.Version != 7 {
		t.Errorf("after reopening: %+v, %v", p, err)
	}
	if _, err := db2.PromptVersions("none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("PromptVersions(none) = %v, want ErrNotFound", err)
	}
}

func TestPromptBudget(t *testing.T) {
	clock := newClock(t0)
	db, _ := openTest(t, Options{Now: clock.Now})
	spend := func(id, prompt string, c int64) {
		t.Helper()
		mustSettle(t, db, gateway.Record{ID: id, Time: t0.Add(-time.Hour), Provider: "openai", Model: "gpt-4o-mini", Token: "ci", Prompt: prompt, Outcome: gateway.OutcomeOK, Cost: cents(c), Priced: true})
	}
	spend("a", "summarize", 10)
	spend("b", "summarize", 20)
	spend("c", "classify", 40)
	spend("d", "", 80)

	// A budget made after the spend sees the prompt's share of it.
	mustPutBudget(t, db, gateway.Budget{Name: "sum", Limit: cents(50), Period: gateway.PeriodDay, Prompt: "summarize"})
	if st := mustBudget(t, db, "sum"); st.Spent != cents(30) || st.Budget.Scope() != "prompt summarize" {
		t.Errorf("prompt budget: spent %s (%s), want 0.3 on prompt summarize", st.Spent, st.Budget.Scope())
	}
	// It holds the prompt's calls and no others.
	err := db.Hold(context.Background(), gateway.Hold{ID: "h1", Provider: "openai", Model: "gpt-4o-mini", Prompt: "summarize", Amount: cents(25)})
	var ref *gateway.Refusal
	if !errors.As(err, &ref) || ref.Budget != "sum" {
		t.Errorf("Hold(prompt summarize, 0.25) = %v, want a refusal by sum", err)
	}
	mustHold(t, db, gateway.Hold{ID: "h2", Provider: "openai", Model: "gpt-4o-mini", Prompt: "classify", Amount: cents(25)})
	mustHold(t, db, gateway.Hold{ID: "h3", Provider: "openai", Model: "gpt-4o-mini", Amount: cents(25)})
	mustHold(t, db, gateway.Hold{ID: "h4", Provider: "openai", Model: "gpt-4o-mini", Prompt: "summarize", Amount: cents(15)})
	if st := mustBudget(t, db, "sum"); st.Held != cents(15) {
		t.Errorf("held %s, want 0.15: only the prompt's hold", st.Held)
	}
	mustSettle(t, db, gateway.Record{ID: "h4", Time: t0, Provider: "openai", Model: "gpt-4o-mini", Prompt: "summarize", Outcome: gateway.OutcomeOK, Cost: cents(5), Priced: true})
	if st := mustBudget(t, db, "sum"); st.Spent != cents(35) || st.Held != 0 {
		t.Errorf("after settling: spent %s held %s, want 0.35 and 0", st.Spent, st.Held)
	}
	rows, err := db.PromptSpend(time.Time{}, time.Time{})
	if err != nil || len(rows) != 2 || rows[0].Key != "classify" || rows[1].Key != "summarize" || rows[1].Cost != cents(35) || rows[1].Requests != 3 {
		t.Errorf("PromptSpend = %+v, %v", rows, err)
	}
	// Records can be looked up by prompt.
	recs, err := db.Records(LogQuery{Prompt: "summarize"})
	if err != nil || len(recs) != 3 {
		t.Errorf("Records(prompt summarize) = %d records, %v; want 3", len(recs), err)
	}
	// A budget names one scope.
	if _, err := db.PutBudget(gateway.Budget{Name: "x", Limit: 1, Period: gateway.PeriodDay, Prompt: "a", Token: "ci"}); !errors.Is(err, gateway.ErrInvalidBudget) {
		t.Errorf("PutBudget(prompt and token) = %v, want ErrInvalidBudget", err)
	}
}
