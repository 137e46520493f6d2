package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

const aliasUsage = "sluice alias set NAME TARGET [--fallback TARGET ...] [--over-soft TARGET] | ls [--json] | rm NAME"

// listFlag collects a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// alias sets, lists and removes aliases: model names that stand for other
// models, with fallbacks and a cheaper model for when a budget is past its
// soft threshold.
func (c *cli) alias(args []string) error {
	fs := c.flags("alias")
	asJSON := fs.Bool("json", false, "print JSON")
	var fallbacks listFlag
	fs.Var(&fallbacks, "fallback", "with set: a target tried when the ones before it fail before their first byte (429, 5xx, no connection, a timeout); repeatable, tried in order")
	overSoft := fs.String("over-soft", "", "with set: the target used instead once a budget that applies is past its soft threshold")
	pos, api, err := c.start(fs, args, "ls")
	if err != nil {
		return err
	}
	switch pos[0] {
	case "set", "add":
		if len(pos) != 3 {
			return fmt.Errorf("%w: sluice alias set NAME TARGET [--fallback TARGET ...] [--over-soft TARGET] (TARGET: provider/model, such as openai/gpt-5-mini, or a model the price table knows)", errUsage)
		}
		a, err := api.PutAlias(c.ctx, gateway.Alias{Name: pos[1], Target: pos[2], Fallbacks: fallbacks, OverSoft: *overSoft})
		var clash *store.AliasCaseError
		if errors.As(err, &clash) {
			return fmt.Errorf("%w (sluice alias rm %s)", err, clash.Existing)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "alias %s → %s%s\n", a.Name, a.Target, aliasExtras(a))
		for _, w := range a.Warnings {
			fmt.Fprintf(c.stderr, "warning: %s\n", w)
		}
		return nil
	case "rm", "remove", "delete":
		return c.remove(pos, "sluice alias rm NAME", api.DeleteAlias, "removed alias %s\n")
	case "ls", "list":
		if len(pos) != 1 {
			return fmt.Errorf("%w: sluice alias ls [--json]", errUsage)
		}
		as, err := api.Aliases(c.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, as)
		}
		if len(as) == 0 {
			fmt.Fprintln(c.stdout, "no aliases; make one with: "+aliasUsage)
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTARGET\tFALLBACKS\tOVER SOFT")
		for _, a := range as {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, a.Target, orDash(strings.Join(a.Fallbacks, ", ")), orDash(a.OverSoft))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, a := range as {
			for _, w := range a.Warnings {
				fmt.Fprintf(c.stderr, "warning: alias %s: %s\n", a.Name, w)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s", errUsage, aliasUsage)
}

// aliasExtras describes an alias's fallbacks and over-soft target.
func aliasExtras(a gateway.Alias) string {
	var b strings.Builder
	if len(a.Fallbacks) > 0 {
		fmt.Fprintf(&b, ", then %s", strings.Join(a.Fallbacks, ", then "))
	}
	if a.OverSoft != "" {
		fmt.Fprintf(&b, "; %s once a budget is past its soft threshold", a.OverSoft)
	}
	return b.String()
}
