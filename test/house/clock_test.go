package house

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// wallClockAllowed are the product files that may read the wall clock, and why: every
// other timer the product reads (checks, renewals, revocations, restarts, recounts, key
// reloads) comes from the injected clock, so that a test that steps it drives them all.
var wallClockAllowed = map[string]string{
	// the latency of a request, and a Retry-After the Devin API asks for: real waits.
	"internal/devinapi/client.go": "request latency and server-requested waits",
	// the fake's Retry-After windows and held answers pair with the client's real waits.
	"internal/testing/devinapitest/faults.go": "faults timed as the client waits for them",
	// compares with the Devin API's own record of a token's last use.
	"internal/testing/audit/audit.go": "compared with the Devin API's clock",
	// the serving certificate's renewal timer runs on real time (certificates expire in it).
	"internal/webhook/certs/certs.go": "certificate renewal",
}

// wallClock are the functions of package time that read the wall clock or wait on it.
var wallClock = map[string]bool{"Now": true, "Since": true, "Until": true, "After": true,
	"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true, "Sleep": true}

// Periodic work reads the injected clock: a wall-clock read on the path of a check or a
// recheck makes a test that steps the fake clock wait for luck.
func TestOnlyTheInjectedClockDrivesTimers(t *testing.T) {
	root, files := productFiles(t)
	fset := token.NewFileSet()
	for _, rel := range files {
		f, err := parser.ParseFile(fset, filepath.Join(root, rel), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		timePkg := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"time"` {
				timePkg = "time"
				if imp.Name != nil {
					timePkg = imp.Name.Name
				}
			}
		}
		if timePkg == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == timePkg && wallClock[sel.Sel.Name] {
				if _, ok := wallClockAllowed[filepath.ToSlash(rel)]; !ok {
					t.Errorf("%s: time.%s reads the wall clock; take a clock.Clock (k8s.io/utils/clock) instead", fset.Position(sel.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
	}
}
