package app

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A recipe is what one tool or SDK needs to send its calls through Sluice:
// environment variables, a block of its config file, or code. Every claim
// a recipe makes about a tool says how it was checked (Verified): by
// running the tool against `sluice serve` in the end-to-end tests, or, for
// a tool that cannot run there, by reading its source.

// Recipe is how one tool reaches Sluice.
type Recipe struct {
	Tool  string `json:"tool"`
	Title string `json:"title"`
	Group string `json:"group"` // "agent", "sdk" or "editor"
	// Env are the variables the tool reads, in the order to set them.
	Env []EnvVar `json:"env,omitempty"`
	// File is the tool's config file block, when the tool needs one (or
	// takes its settings from one as well as from the environment).
	File *ConfigFile `json:"file,omitempty"`
	// Code are snippets for SDKs, which take the address in code.
	Code []Snippet `json:"code,omitempty"`
	// Notes say what a user must know: what the tool ignores, where it
	// differs from its siblings.
	Notes []string `json:"notes,omitempty"`
	// Verified says how this recipe was checked against the tool itself.
	Verified string `json:"verified"`
	// Model, when set, is the alias the tool runs on.
	Model *ConnectModel `json:"model,omitempty"`
}

// EnvVar is one environment variable a tool reads.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ConfigFile is a block of a tool's own config file.
type ConfigFile struct {
	// Path is where the tool reads it, as a user writes it
	// ("~/.codex/config.toml").
	Path   string `json:"path"`
	Format string `json:"format"` // "json", "toml" or "yaml"
	Block  string `json:"block"`
	// Writable: `sluice connect TOOL --write` edits the file in place.
	Writable bool `json:"writable"`
	// EnvFallback: the tool also takes Env from its environment, so the
	// file is one of two ways.
	EnvFallback bool `json:"env_fallback,omitempty"`
}

// Snippet is code in one language.
type Snippet struct {
	Lang string `json:"lang"` // "typescript", "python", "shell"
	Text string `json:"text"`
}

// TokenPlaceholder stands for the token in a recipe shown before one is
// made: a shell variable in environment lines, the same name in files.
const TokenPlaceholder = "$SLUICE_TOKEN"

// connectTool makes a tool's recipe for a gateway at base
// ("http://127.0.0.1:4020") and a local token (TokenPlaceholder when none
// was made yet).
type connectTool struct {
	id, title, group string
	recipe           func(base, token string) Recipe
	// model, when not nil, sets the recipe up for the tool to run on the
	// model an alias names (ConnectModel).
	model func(r *Recipe, m ConnectModel)
}

var connectTools = []connectTool{
	{"claude-code", "Claude Code", "agent", claudeCodeRecipe, claudeCodeModel},
	{"codex", "Codex CLI", "agent", codexRecipe, nil},
	{"aider", "aider", "agent", aiderRecipe, nil},
	{"opencode", "opencode", "agent", opencodeRecipe, nil},
	{"continue", "Continue", "editor", continueRecipe, nil},
	{"cursor", "Cursor", "editor", cursorRecipe, nil},
	{"openai", "OpenAI SDK", "sdk", openaiRecipe, nil},
	{"anthropic", "Anthropic SDK", "sdk", anthropicRecipe, nil},
	{"gemini", "Gemini SDK (google-genai)", "sdk", geminiRecipe, nil},
	{"ai-sdk", "Vercel AI SDK", "sdk", aiSDKRecipe, nil},
	{"langchain", "LangChain", "sdk", langchainRecipe, nil},
}

// ConnectTools returns the ids of the tools `sluice connect` knows, in the
// order they are shown.
func ConnectTools() []string {
	ids := make([]string, len(connectTools))
	for i, t := range connectTools {
		ids[i] = t.id
	}
	return ids
}

// ConnectRecipe returns tool's recipe for a gateway at base with token.
func ConnectRecipe(tool, base, token string) (Recipe, error) {
	return connectModelRecipe(tool, base, token, nil)
}

// ConnectModel is the model a tool is to run on, through an alias: the
// tool asks for Alias, which Sluice sends to Target.
type ConnectModel struct {
	Alias  string `json:"alias"`
	Target string `json:"target"`
	// ContextWindow and MaxOutput are the target's, in tokens, from the
	// price table; 0 when it does not say.
	ContextWindow int64 `json:"context_window,omitempty"`
	MaxOutput     int64 `json:"max_output,omitempty"`
}

// errNoModelChoice is returned for a model asked of a tool whose recipe
// cannot pick one.
var errNoModelChoice = errors.New("this tool's recipe cannot choose its model")

// connectModelRecipe returns tool's recipe for a gateway at base with
// token, set up to run on m's alias when m is not nil.
func connectModelRecipe(tool, base, token string, m *ConnectModel) (Recipe, error) {
	tool = strings.ToLower(strings.TrimSpace(tool))
	if alias, ok := toolAliases[tool]; ok {
		tool = alias
	}
	for _, t := range connectTools {
		if t.id == tool {
			r := t.recipe(strings.TrimRight(base, "/"), token)
			r.Tool, r.Title, r.Group = t.id, t.title, t.group
			if m != nil {
				if t.model == nil {
					return Recipe{}, fmt.Errorf("%s: %w (only %s can)", t.title, errNoModelChoice, strings.Join(modelTools(), ", "))
				}
				t.model(&r, *m)
				r.Model = m
			}
			return r, nil
		}
	}
	return Recipe{}, fmt.Errorf("tool %q: %w (known: %s)", tool, errNotFound, strings.Join(ConnectTools(), ", "))
}

// modelTools are the tools whose recipe can choose their model.
func modelTools() []string {
	var ids []string
	for _, t := range connectTools {
		if t.model != nil {
			ids = append(ids, t.id)
		}
	}
	return ids
}

var toolAliases = map[string]string{
	"claude": "claude-code", "claudecode": "claude-code", "codex-cli": "codex",
	"vercel": "ai-sdk", "vercel-ai": "ai-sdk", "ai": "ai-sdk", "google": "gemini", "google-genai": "gemini",
}

// tokenExpr is how code reads the token: the literal when one was made,
// else the environment variable.
func tokenExpr(token, lang string) string {
	if token == TokenPlaceholder {
		switch lang {
		case "python":
			return `os.environ["SLUICE_TOKEN"]`
		default:
			return "process.env.SLUICE_TOKEN"
		}
	}
	if lang == "python" {
		return `"` + token + `"`
	}
	return "'" + token + "'"
}

func pyImportOS(token string) string {
	if token == TokenPlaceholder {
		return "import os\n"
	}
	return ""
}

func claudeCodeRecipe(base, token string) Recipe {
	env := []EnvVar{{"ANTHROPIC_BASE_URL", base}, {"ANTHROPIC_AUTH_TOKEN", token}}
	return Recipe{
		Env: env,
		File: &ConfigFile{Path: "~/.claude/settings.json", Format: "json", Writable: true, EnvFallback: true,
			Block: jsonEnvBlock(env)},
		Notes: []string{
			"Claude Code sends ANTHROPIC_AUTH_TOKEN as a bearer token.",
			"Claude Code asks for max_tokens 128000 on every call; Sluice holds a stream's input and a slice of output and extends the hold as the answer comes, so a small budget still serves it.",
		},
		Verified: "run here: @anthropic-ai/claude-code 2.1.332, `claude -p` with a tool call, set up both from the environment and from ~/.claude/settings.json, against sluice serve (e2e TestClaudeCode)",
	}
}

// claudeCodeOutput is the max_tokens Claude Code 2.1.332 asks for with a
// model it does not know (checked by running it).
const claudeCodeOutput = 32000

// claudeCodeModel sets Claude Code up to ask for m's alias, whichever
// model it would have asked for: its main model, and the opus, sonnet and
// haiku tiers its subagents name. Each variable was checked by running
// claude 2.1.332 against a fake provider that logged the model of every
// request.
func claudeCodeModel(r *Recipe, m ConnectModel) {
	r.Env = append(r.Env,
		EnvVar{"ANTHROPIC_MODEL", m.Alias},
		EnvVar{"ANTHROPIC_DEFAULT_OPUS_MODEL", m.Alias},
		EnvVar{"ANTHROPIC_DEFAULT_SONNET_MODEL", m.Alias},
		EnvVar{"ANTHROPIC_DEFAULT_HAIKU_MODEL", m.Alias},
	)
	if m.ContextWindow > 0 {
		r.Env = append(r.Env, EnvVar{"CLAUDE_CODE_MAX_CONTEXT_TOKENS", strconv.FormatInt(m.ContextWindow, 10)})
	}
	if m.MaxOutput > 0 && m.MaxOutput < claudeCodeOutput {
		r.Env = append(r.Env, EnvVar{"CLAUDE_CODE_MAX_OUTPUT_TOKENS", strconv.FormatInt(m.MaxOutput, 10)})
	}
	r.File.Block = jsonEnvBlock(r.Env)
	notes := []string{
		fmt.Sprintf("Claude Code asks for the model %s (ANTHROPIC_MODEL, and the opus, sonnet and haiku tiers its subagents use), an alias Sluice sends to %s, in that provider's own format where it is not Anthropic's; the ledger charges %s's prices. `sluice alias set %s TARGET` moves it, with no restart; `--fallback TARGET` adds a fallback for when it is down.", m.Alias, m.Target, m.Target, m.Alias),
		fmt.Sprintf("ANTHROPIC_SMALL_FAST_MODEL does not move the haiku-tier subagents (they still asked for claude-haiku-5-5); ANTHROPIC_DEFAULT_HAIKU_MODEL does. To run them on a cheaper model: `sluice alias set %s-small TARGET`, then ANTHROPIC_DEFAULT_HAIKU_MODEL=%s-small.", m.Alias, m.Alias),
	}
	if m.ContextWindow > 0 {
		notes = append(notes, fmt.Sprintf("Claude Code does not know the model %s, so it would take its context window for 1M tokens; CLAUDE_CODE_MAX_CONTEXT_TOKENS gives it %s's, %d, from the price table.", m.Alias, m.Target, m.ContextWindow))
	} else {
		notes = append(notes, fmt.Sprintf("Claude Code does not know the model %s, so it takes its context window for 1M tokens (it says so on every run): set CLAUDE_CODE_MAX_CONTEXT_TOKENS to %s's real window.", m.Alias, m.Target))
	}
	if m.MaxOutput > 0 && m.MaxOutput < claudeCodeOutput {
		notes = append(notes, fmt.Sprintf("Claude Code asks a model it does not know for %d output tokens; CLAUDE_CODE_MAX_OUTPUT_TOKENS keeps it within %s's %d.", claudeCodeOutput, m.Target, m.MaxOutput))
	} else {
		notes = append(notes, fmt.Sprintf("Claude Code asks a model it does not know for %d output tokens (max_tokens); CLAUDE_CODE_MAX_OUTPUT_TOKENS changes it.", claudeCodeOutput))
	}
	// What the recipe says of Claude's own models' max_tokens is not so
	// of the alias.
	for _, n := range r.Notes {
		if !strings.Contains(n, "max_tokens 128000") {
			notes = append(notes, n)
		}
	}
	r.Notes = notes
	r.Verified += "; the model variables: run here, claude 2.1.332 `-p` with a subagent of each tier against a fake provider logging each request's model and max_tokens, and `-p` with a tool call through the alias to an Anthropic and an OpenAI model (e2e TestClaudeCodeThroughAlias)"
}

func jsonEnvBlock(env []EnvVar) string {
	var b strings.Builder
	b.WriteString("{\n  \"env\": {\n")
	for i, v := range env {
		fmt.Fprintf(&b, "    %s: %s", jsonString(v.Name), jsonString(v.Value))
		if i < len(env)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

// codexProvider is the name of the model provider table Sluice writes into
// Codex's config.
const codexProvider = "sluice"

func codexRecipe(base, token string) Recipe {
	auth := "experimental_bearer_token = " + tomlString(token)
	if token == TokenPlaceholder {
		auth = `env_key = "SLUICE_TOKEN"`
	}
	block := fmt.Sprintf(`model_provider = %q

[model_providers.%s]
name = "Sluice"
base_url = %s
wire_api = "responses"
%s
`, codexProvider, codexProvider, tomlString(base+"/v1"), auth)
	return Recipe{
		File: &ConfigFile{Path: "~/.codex/config.toml", Format: "toml", Writable: true, Block: block},
		Notes: []string{
			"Codex reads neither OPENAI_BASE_URL nor OPENAI_API_KEY: its address and key come only from config.toml ($CODEX_HOME/config.toml when CODEX_HOME is set).",
			"model_provider is a top-level key: it goes above the first [table] of the file.",
			"A provider table of its own makes Codex use HTTPS streams (no WebSocket) and send the token as a bearer token.",
			"`codex -m MODEL` or model = \"...\" picks the model; a model newer than Sluice's price table is refused under a budget until `sluice prices update`.",
			"Codex retries a refused stream five times (stream_max_retries) before it shows Sluice's 402 and stops.",
		},
		Verified: "run here: @openai/codex 0.171.0, `codex exec` with a tool call, against sluice serve (e2e TestCodex); the same run shows it ignores OPENAI_BASE_URL",
	}
}

func aiderRecipe(base, token string) Recipe {
	env := []EnvVar{{"OPENAI_API_BASE", base + "/v1"}, {"OPENAI_API_KEY", token}}
	return Recipe{
		Env: env,
		File: &ConfigFile{Path: "~/.aider.conf.yml", Format: "yaml", Writable: true, EnvFallback: true,
			Block: "openai-api-base: " + yamlString(base+"/v1") + "\nopenai-api-key: " + yamlString(token) + "\n"},
		Notes: []string{
			"aider sends every model named openai/MODEL to this address: `aider --model openai/gpt-5.5`, or `--model openai/claude-sonnet-4-5` (Sluice routes claude-… names to Anthropic).",
		},
		Verified: "read from aider's source (aider/args.py: --openai-api-base reads OPENAI_API_BASE, --openai-api-key OPENAI_API_KEY, and ~/.aider.conf.yml takes the same keys); not run here: aider is a Python program",
	}
}

func opencodeRecipe(base, token string) Recipe {
	block := fmt.Sprintf(`{
  "$schema": "https://opencode.ai/config.json",
  "provider": {
    "anthropic": {
      "options": {
        "baseURL": %s,
        "apiKey": %s
      }
    },
    "openai": {
      "options": {
        "baseURL": %s,
        "apiKey": %s
      }
    }
  }
}
`, jsonString(base+"/v1"), jsonString(token), jsonString(base+"/v1"), jsonString(token))
	return Recipe{
		File: &ConfigFile{Path: "~/.config/opencode/opencode.json", Format: "json", Writable: true, Block: block},
		Notes: []string{
			"opencode passes each provider's options to its AI SDK provider, whose Anthropic base URL ends in /v1.",
		},
		Verified: "run here by hand (not in the automated tests): opencode-ai 1.18.33, `opencode run -m anthropic/claude-sonnet-4-5` and `-m openai/gpt-5.5` with this file as ~/.config/opencode/opencode.json, against a local fake provider: it sent the token to /v1/messages and /v1/responses",
	}
}

func continueRecipe(base, token string) Recipe {
	block := fmt.Sprintf(`name: Sluice
version: 1.0.0
schema: v1
models:
  - name: GPT through Sluice
    provider: openai
    model: gpt-5.5
    apiBase: %s
    apiKey: %s
  - name: Claude through Sluice
    provider: anthropic
    model: claude-sonnet-4-5
    apiBase: %s
    apiKey: %s
`, yamlString(base+"/v1"), yamlString(token), yamlString(base+"/v1/"), yamlString(token))
	return Recipe{
		File: &ConfigFile{Path: "~/.continue/config.yaml", Format: "yaml", Block: block},
		Notes: []string{
			"A config.yaml of your own already has name, version and schema: add the two entries to its models list. Continue's cn command line reads this file, and so do its editor extensions.",
		},
		Verified: "run here by hand (not in the automated tests): @continuedev/cli 1.5.47, `cn -p` reading ~/.continue/config.yaml, against a local fake provider: the openai entry sent the token to /v1/responses, the anthropic entry to /v1/messages",
	}
}

func cursorRecipe(base, token string) Recipe {
	return Recipe{
		Notes: []string{
			"Cursor has no file or variable for this: in Cursor Settings → Models, paste the token as the OpenAI API Key, turn on \"Override OpenAI Base URL\" and enter " + base + "/v1 (token: " + token + ").",
			"Not checked here: Cursor is a desktop application. Its users report that it calls a custom base URL from Cursor's servers, not from your machine (proxies for it open a public tunnel), which cannot reach " + base + "; and that its agent may send Responses-shaped bodies to /chat/completions. Its built-in models never go through Sluice.",
			"Extensions and terminals inside Cursor run on your machine: set them up as their own tools (claude-code, codex, the SDKs).",
		},
		Verified: "not checked: a desktop application; from its users' reports",
	}
}

func openaiRecipe(base, token string) Recipe {
	return Recipe{
		Env: []EnvVar{{"OPENAI_BASE_URL", base + "/v1"}, {"OPENAI_API_KEY", token}},
		Code: []Snippet{
			{"typescript", fmt.Sprintf(`import OpenAI from 'openai';

const client = new OpenAI({ baseURL: '%s/v1', apiKey: %s });`, base, tokenExpr(token, "ts"))},
			{"python", fmt.Sprintf(`%sfrom openai import OpenAI

client = OpenAI(base_url="%s/v1", api_key=%s)`, pyImportOS(token), base, tokenExpr(token, "python"))},
		},
		Verified: "run here: openai (npm) 7.55.0 from OPENAI_BASE_URL and OPENAI_API_KEY (e2e TestSDK*); the Python SDK reads the same variables",
	}
}

func anthropicRecipe(base, token string) Recipe {
	return Recipe{
		Env: []EnvVar{{"ANTHROPIC_BASE_URL", base}, {"ANTHROPIC_API_KEY", token}},
		Code: []Snippet{
			{"typescript", fmt.Sprintf(`import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: '%s', apiKey: %s });`, base, tokenExpr(token, "ts"))},
			{"python", fmt.Sprintf(`%simport anthropic

client = anthropic.Anthropic(base_url="%s", api_key=%s)`, pyImportOS(token), base, tokenExpr(token, "python"))},
		},
		Notes:    []string{"The Anthropic SDKs take the address without /v1."},
		Verified: "run here: @anthropic-ai/sdk 1.10.0 (e2e TestSDK*)",
	}
}

func geminiRecipe(base, token string) Recipe {
	return Recipe{
		Env: []EnvVar{{"GOOGLE_GEMINI_BASE_URL", base}, {"GEMINI_API_KEY", token}},
		Code: []Snippet{
			{"typescript", fmt.Sprintf(`import { GoogleGenAI } from '@google/genai';

const ai = new GoogleGenAI({ apiKey: %s, httpOptions: { baseUrl: '%s' } });`, tokenExpr(token, "ts"), base)},
			{"python", fmt.Sprintf(`%sfrom google import genai
from google.genai import types

client = genai.Client(api_key=%s, http_options=types.HttpOptions(base_url="%s"))`, pyImportOS(token), tokenExpr(token, "python"), base)},
		},
		Verified: "run here: @google/genai 3.1.0 (e2e TestSDK*)",
	}
}

func aiSDKRecipe(base, token string) Recipe {
	return Recipe{
		Env: []EnvVar{{"OPENAI_BASE_URL", base + "/v1"}, {"OPENAI_API_KEY", token}, {"ANTHROPIC_BASE_URL", base + "/v1"},
			{"ANTHROPIC_API_KEY", token}, {"GOOGLE_GENERATIVE_AI_API_KEY", token}},
		Code: []Snippet{{"typescript", fmt.Sprintf(`import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';

const openai = createOpenAI({ baseURL: '%[1]s/v1', apiKey: %[2]s });
const anthropic = createAnthropic({ baseURL: '%[1]s/v1', apiKey: %[2]s });
const google = createGoogleGenerativeAI({ baseURL: '%[1]s/v1beta', apiKey: %[2]s });`, base, tokenExpr(token, "ts"))}},
		Notes: []string{
			"The AI SDK's Anthropic provider takes its address with /v1 (unlike Anthropic's own SDK), and its Google provider with /v1beta; it has no variable for Google's address.",
		},
		Verified: "run here: ai 7.0.173 with @ai-sdk/openai 4.0.118, @ai-sdk/anthropic 4.0.105 and @ai-sdk/google 4.0.121, from these variables (Google's base URL in code), each with a tool round trip, and under a budget it cannot pay (e2e TestAISDKAndLangChain)",
	}
}

func langchainRecipe(base, token string) Recipe {
	return Recipe{
		Env: []EnvVar{{"OPENAI_BASE_URL", base + "/v1"}, {"OPENAI_API_KEY", token}, {"ANTHROPIC_API_URL", base}, {"ANTHROPIC_API_KEY", token}},
		Code: []Snippet{
			{"typescript", fmt.Sprintf(`import { ChatOpenAI } from '@langchain/openai';
import { ChatAnthropic } from '@langchain/anthropic';

const gpt = new ChatOpenAI({ model: 'gpt-5.5', apiKey: %[2]s, configuration: { baseURL: '%[1]s/v1' } });
const claude = new ChatAnthropic({ model: 'claude-sonnet-4-5', apiKey: %[2]s, anthropicApiUrl: '%[1]s' });`, base, tokenExpr(token, "ts"))},
			{"python", fmt.Sprintf(`%sfrom langchain_openai import ChatOpenAI
from langchain_anthropic import ChatAnthropic

gpt = ChatOpenAI(model="gpt-5.5", base_url="%[2]s/v1", api_key=%[3]s)
claude = ChatAnthropic(model="claude-sonnet-4-5", base_url="%[2]s", api_key=%[3]s)`, pyImportOS(token), base, tokenExpr(token, "python"))},
		},
		Verified: "run here: @langchain/openai 1.6.0 and @langchain/anthropic 1.5.11 (with @langchain/core 1.4.0), from these variables, each with a tool round trip, and under a budget it cannot pay (e2e TestAISDKAndLangChain); the Python packages were not run",
	}
}

// Text is the recipe as `sluice connect` prints it and the Connect page
// shows it: comments, then environment lines for shell (sh, fish or
// powershell) or the config file block.
func (r Recipe) Text(shell string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", r.Title)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "# %s\n", n)
	}
	fmt.Fprintf(&b, "# Checked: %s\n", r.Verified)
	if len(r.Env) > 0 {
		for _, v := range r.Env {
			line, err := envLine(shell, v.Name, v.Value)
			if err != nil {
				return "", err
			}
			b.WriteString(line)
		}
		if r.File != nil && r.File.EnvFallback {
			model := ""
			if r.Model != nil {
				model = " --model " + ShellQuote(r.Model.Target)
			}
			fmt.Fprintf(&b, "# Or keep them in %s: sluice connect %s%s --write\n", r.File.Path, r.Tool, model)
		}
	} else if r.File != nil {
		how := "add this to " + r.File.Path
		if r.File.Writable {
			how += " (sluice connect " + r.Tool + " --write does it, with a backup; --undo restores it)"
		}
		fmt.Fprintf(&b, "# %s:\n%s", how, r.File.Block)
	}
	for _, s := range r.Code {
		fmt.Fprintf(&b, "# Or in %s:\n", s.Lang)
		for _, l := range strings.Split(s.Text, "\n") {
			fmt.Fprintf(&b, "#   %s\n", l)
		}
	}
	return b.String(), nil
}

// envLine sets one variable in shell's words. A value that is the token
// placeholder stays a variable reference.
func envLine(shell, name, value string) (string, error) {
	switch shell {
	case "", "sh", "bash", "zsh":
		if value == TokenPlaceholder {
			return fmt.Sprintf("export %s=\"$SLUICE_TOKEN\"\n", name), nil
		}
		return fmt.Sprintf("export %s=%s\n", name, ShellQuote(value)), nil
	case "fish":
		if value == TokenPlaceholder {
			return fmt.Sprintf("set -gx %s $SLUICE_TOKEN\n", name), nil
		}
		return fmt.Sprintf("set -gx %s %s\n", name, ShellQuote(value)), nil
	case "powershell", "pwsh":
		if value == TokenPlaceholder {
			return fmt.Sprintf("$env:%s = $env:SLUICE_TOKEN\n", name), nil
		}
		return fmt.Sprintf("$env:%s = '%s'\n", name, strings.ReplaceAll(value, "'", "''")), nil
	}
	return "", fmt.Errorf("unknown shell %q: want sh, fish or powershell", shell)
}

// ShellQuote quotes s for a POSIX shell (and fish).
func ShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// ConnectResult is a recipe with the token made for it.
type ConnectResult struct {
	Recipe    Recipe `json:"recipe"`
	TokenName string `json:"token_name,omitempty"` // "" when the recipe holds the placeholder
	Text      string `json:"text"`
}

// connectTokenName is the name of the local token made for tool: the
// tool's id, or the first free id-N.
func connectTokenName(tool string, taken map[string]bool) string {
	if !taken[tool] {
		return tool
	}
	for i := 2; ; i++ {
		n := fmt.Sprintf("%s-%d", tool, i)
		if !taken[n] {
			return n
		}
	}
}
