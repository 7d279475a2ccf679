package argocd

import (
	"strings"
	"testing"
	"time"
)

// TestSandbox pins down what the scripts can rely on, as Argo CD gives it to argocd-cm
// scripts: the base and table libraries, os through require with time and date only, and no
// string, math or io library; with useOpenLibs, every library, and still the safe os through
// require.
func TestSandbox(t *testing.T) {
	clock := fixedClock(time.Date(2026, 6, 1, 12, 34, 56, 0, time.UTC))
	probe := `
local os = require("os")
local names = {}
for name, _ in pairs(os) do table.insert(names, name) end
table.sort(names)
return {
  osGlobal = type(_G["os"]),
  stringLib = type(_G["string"]),
  mathLib = type(_G["math"]),
  ioLib = type(_G["io"]),
  required = table.concat(names, ","),
  date = os.date("!%Y-%m-%dT%H:%M:%SZ"),
  time = tostring(os.time()),
  base = type(ipairs) .. type(pairs) .. type(tostring) .. type(tonumber) .. type(pcall) .. type(error),
}`
	for name, tc := range map[string]struct {
		sb   sandbox
		want map[string]any
	}{
		"argocd-cm": {sandbox{now: clock}, map[string]any{
			"osGlobal": "nil", "stringLib": "nil", "mathLib": "nil", "ioLib": "nil",
			"required": "date,time", "date": "2026-06-01T12:34:56Z", "time": "1780317296",
			"base": "functionfunctionfunctionfunctionfunctionfunction",
		}},
		"useOpenLibs": {sandbox{openLibs: true, now: clock}, map[string]any{
			"osGlobal": "table", "stringLib": "table", "mathLib": "table", "ioLib": "table",
			"required": "date,time", "date": "2026-06-01T12:34:56Z", "time": "1780317296",
			"base": "functionfunctionfunctionfunctionfunctionfunction",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := tc.sb.run(probe, map[string]any{})
			if err != nil {
				t.Fatal(err)
			}
			m, _ := got.(map[string]any)
			for k, want := range tc.want {
				if m[k] != want {
					t.Errorf("%s = %v, want %v", k, m[k], want)
				}
			}
		})
	}
}

// TestSandboxRefuses: what Argo CD's sandbox does not offer fails, and a script that runs
// too long is stopped.
func TestSandboxRefuses(t *testing.T) {
	sb := sandbox{now: argoCDClock}
	for name, script := range map[string]string{
		"string library":    `return {status = string.format("%s", "Healthy")}`,
		"method on strings": `local s = "Healthy"; return {status = s:lower()}`,
		"global os":         `return {status = "Healthy", message = os.date()}`,
		"os.execute":        `local os = require("os"); os.execute("true")`,
		"endless loop":      `while true do end`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := sb.run(script, map[string]any{}); err == nil {
				t.Errorf("%q ran in the sandbox", script)
			}
		})
	}
}

// TestScriptsStayInTheSandbox: the scripts call nothing the sandbox lacks even on paths the
// testdata does not reach (a quick textual guard besides the tests that run them).
func TestScriptsStayInTheSandbox(t *testing.T) {
	for _, kind := range healthKinds() {
		scripts := []string{"health.lua"}
		if hasActions(kind) {
			scripts = append(scripts, "actions/discovery.lua", "actions/rotate/action.lua")
		}
		for _, rel := range scripts {
			text := string(readFile(t, kindDir(kind)+"/"+rel))
			for _, banned := range []string{"string.", "math.", "io.", ":format(", ":lower(", ":sub(", ":find(", ":match("} {
				for _, line := range strings.Split(text, "\n") {
					if code, _, _ := strings.Cut(line, "--"); strings.Contains(code, banned) {
						t.Errorf("%s/%s uses %s, which Argo CD's sandbox does not offer: %s", kind, rel, banned, line)
					}
				}
			}
		}
	}
}
