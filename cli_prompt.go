package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sluicehq/sluice/app"
	"github.com/sluicehq/sluice/gateway"
	"golang.org/x/term"
)

const promptUsage = "sluice prompt set NAME --model MODEL --template FILE|TEXT [--system TEXT] [--schema FILE] [--max-tokens N] [--temperature T] | ls [--json] | show NAME [--version N] | rm NAME | rollback NAME [--to N] | run NAME [--var K=V ...]"

func (c *cli) prompt(args []string) error {
	fs := c.flags("prompt")
	asJSON := fs.Bool("json", false, "print JSON")
	model := fs.String("model", "", "with set: the model (as a /v1 request names it: gpt-4o-mini, claude-haiku-4-5, gemini-2.5-flash, mistral/...)")
	template := fs.String("template", "", "with set: the template, or a file holding it ('-' reads stdin); inputs are written {{name}}")
	system := fs.String("system", "", "with set: the system text (may use {{name}} too)")
	schema := fs.String("schema", "", "with set: a file holding the JSON Schema the output must fit ('' removes it)")
	maxTokens := fs.Int64("max-tokens", 0, "with set: the most output tokens (0: the provider's default)")
	temperature := fs.String("temperature", "", "with set: sampling temperature, 0 to 2 ('' leaves the provider's default)")
	version := fs.Int("version", 0, "with show: that version instead of the current one")
	to := fs.Int("to", 0, "with rollback: the version to restore (default: the one before the current)")
	var vars varsFlag
	fs.Var(&vars, "var", "with run: an input, K=V (repeatable); stdin gives the input \"text\"")
	pos, api, err := c.start(fs, args, "ls")
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch pos[0] {
	case "set", "add":
		if err := needName(pos, "sluice prompt set NAME --model MODEL --template FILE|TEXT"); err != nil {
			return err
		}
		name := pos[1]
		p, err := api.Prompt(c.ctx, name, 0)
		if err != nil {
			// A new prompt (or one removed) starts from nothing.
			p = gateway.Prompt{Name: name}
		}
		p.Name = name
		if set["model"] {
			p.Model = *model
		}
		if set["template"] {
			if p.Template, err = c.textOrFile(*template); err != nil {
				return err
			}
		}
		if set["system"] {
			p.System = *system
		}
		if set["schema"] {
			p.Schema = nil
			if *schema != "" {
				b, err := os.ReadFile(*schema)
				if err != nil {
					return fmt.Errorf("read the schema: %w", err)
				}
				if !json.Valid(b) {
					return fmt.Errorf("the schema %s is not JSON", *schema)
				}
				p.Schema = b
			}
		}
		if set["max-tokens"] {
			p.MaxTokens = *maxTokens
		}
		if set["temperature"] {
			p.Temperature = nil
			if *temperature != "" {
				t, err := strconv.ParseFloat(*temperature, 64)
				if err != nil {
					return fmt.Errorf("%w: --temperature %q is not a number", errUsage, *temperature)
				}
				p.Temperature = &t
			}
		}
		if p.Model == "" || p.Template == "" {
			return fmt.Errorf("%w: a new prompt needs --model and --template: %s", errUsage, promptUsage)
		}
		out, err := api.PutPrompt(c.ctx, p)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, out)
		}
		fmt.Fprintf(c.stdout, "prompt %s v%d: %s, inputs %s\n  POST /p/%s\n", out.Name, out.Version, out.Model, inputList(out), out.Name)
		return nil
	case "ls", "list":
		ps, err := api.Prompts(c.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, ps)
		}
		if len(ps) == 0 {
			fmt.Fprintln(c.stdout, "no prompts yet: sluice prompt set NAME --model MODEL --template TEXT")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tVERSION\tMODEL\tINPUTS\tSCHEMA\tENDPOINT")
		for _, p := range ps {
			sch := "-"
			if len(p.Schema) > 0 {
				sch = "yes"
			}
			fmt.Fprintf(tw, "%s\tv%d\t%s\t%s\t%s\tPOST /p/%s\n", p.Name, p.Version, p.Model, inputList(p), sch, p.Name)
		}
		return tw.Flush()
	case "show":
		if err := needName(pos, "sluice prompt show NAME [--version N]"); err != nil {
			return err
		}
		p, err := api.Prompt(c.ctx, pos[1], *version)
		if err != nil {
			if vs, verr := api.PromptVersions(c.ctx, pos[1]); *version == 0 && verr == nil && len(vs) > 0 && vs[len(vs)-1].Deleted {
				return fmt.Errorf("%w; `sluice prompt rollback %s` restores it", err, pos[1])
			}
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, p)
		}
		c.printPrompt(p)
		if vs, err := api.PromptVersions(c.ctx, pos[1]); err == nil && len(vs) > 1 {
			fmt.Fprintln(c.stdout, "versions:")
			for _, v := range vs {
				what := v.Model
				if v.Deleted {
					what = "removed"
				}
				if v.Note != "" && !v.Deleted {
					what += " (" + v.Note + ")"
				}
				fmt.Fprintf(c.stdout, "  v%d  %s  %s\n", v.Version, v.Created.Local().Format("2006-01-02 15:04"), what)
			}
		}
		return nil
	case "rm", "remove", "delete":
		return c.remove(pos, "sluice prompt rm NAME", api.DeletePrompt, "removed prompt %[1]s (its versions are kept: `sluice prompt rollback %[1]s` restores it)\n")
	case "rollback":
		if err := needName(pos, "sluice prompt rollback NAME [--to N]"); err != nil {
			return err
		}
		p, err := api.RollbackPrompt(c.ctx, pos[1], *to)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "prompt %s v%d: %s\n", p.Name, p.Version, p.Note)
		return nil
	case "run", "call":
		if err := needName(pos, "sluice prompt run NAME [--var K=V ...]"); err != nil {
			return err
		}
		inputs := vars.m
		if inputs == nil {
			inputs = map[string]string{}
		}
		if _, given := inputs["text"]; !given && !c.stdinIsTerminal() {
			b, err := io.ReadAll(c.stdin)
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			if len(b) > 0 {
				inputs["text"] = string(b)
			}
		}
		res, err := api.RunPrompt(c.ctx, app.PromptRun{Name: pos[1], Inputs: inputs, From: app.FromCLI})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, res)
		}
		var s string
		if json.Unmarshal(res.Output, &s) == nil {
			fmt.Fprintln(c.stdout, strings.TrimRight(s, "\n"))
		} else if err := writeJSON(c.stdout, res.Output); err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "%s v%d · %s · %d in, %d out · %s\n", res.Prompt, res.Version, res.Model, res.Usage.InputTokens, res.Usage.OutputTokens, res.Cost.Format())
		return nil
	}
	return fmt.Errorf("%w: %s", errUsage, promptUsage)
}

func (c *cli) printPrompt(p gateway.Prompt) {
	fmt.Fprintf(c.stdout, "name:        %s (v%d)\n", p.Name, p.Version)
	fmt.Fprintf(c.stdout, "endpoint:    POST /p/%s\n", p.Name)
	fmt.Fprintf(c.stdout, "model:       %s\n", p.Model)
	fmt.Fprintf(c.stdout, "inputs:      %s\n", inputList(p))
	if p.MaxTokens > 0 {
		fmt.Fprintf(c.stdout, "max tokens:  %d\n", p.MaxTokens)
	}
	if p.Temperature != nil {
		fmt.Fprintf(c.stdout, "temperature: %g\n", *p.Temperature)
	}
	if p.Deleted {
		fmt.Fprintln(c.stdout, "removed:     yes (this version removed the prompt)")
	}
	if p.System != "" {
		fmt.Fprintf(c.stdout, "system:\n%s\n", indent(p.System))
	}
	fmt.Fprintf(c.stdout, "template:\n%s\n", indent(p.Template))
	if len(p.Schema) > 0 {
		fmt.Fprintf(c.stdout, "schema:\n%s\n", indent(string(p.Schema)))
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

func inputList(p gateway.Prompt) string {
	in := p.Inputs()
	if len(in) == 0 {
		return "none"
	}
	return strings.Join(in, ", ")
}

// textOrFile reads s as a file when one exists by that name ("-": stdin),
// else takes it as the text itself.
func (c *cli) textOrFile(s string) (string, error) {
	if s == "-" {
		b, err := io.ReadAll(c.stdin)
		return string(b), err
	}
	if fi, err := os.Stat(s); err == nil && fi.Mode().IsRegular() {
		b, err := os.ReadFile(s)
		if err != nil {
			return "", fmt.Errorf("read the template: %w", err)
		}
		return string(b), nil
	}
	return s, nil
}

func (c *cli) stdinIsTerminal() bool {
	if c.stdin == nil {
		return true
	}
	if f, ok := c.stdin.(*os.File); ok {
		return term.IsTerminal(int(f.Fd()))
	}
	return false
}

// varsFlag collects --var K=V.
type varsFlag struct{ m map[string]string }

func (v *varsFlag) String() string { return "" }

func (v *varsFlag) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want K=V")
	}
	if v.m == nil {
		v.m = map[string]string{}
	}
	v.m[k] = val
	return nil
}
