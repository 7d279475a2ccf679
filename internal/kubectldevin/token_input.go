package kubectldevin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/cogtokens/token-operator/internal/tokenpattern"
)

// maxTokenInput bounds what import reads as a token.
const maxTokenInput = 4096

// errTokenInArgs refuses a command line that carries something like a token value.
var errTokenInArgs = errors.New("an argument looks like a token value (cog_...): a token passed as an argument is in your " +
	"shell history and the process list. Revoke it in the Devin web app (account settings), generate another, and give it " +
	"to kubectl devin import on stdin or at its prompt")

// tokenInArgs reports whether an argument holds something that looks like a token value.
func tokenInArgs(args []string) bool {
	for _, a := range args {
		if tokenpattern.Contains(a) {
			return true
		}
	}
	return false
}

// readToken reads a token from a prompt that does not echo (stdin is a terminal) or from
// the first line of stdin (a pipe), and checks that it looks like one. Neither the value
// nor any part of it is ever put into an error.
func readToken(in io.Reader, prompt io.Writer, whose string) (string, error) {
	var raw []byte
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(prompt, "Paste the personal access token %s generated in the Devin web app (not shown): ", whose)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read the token from the terminal: %w", err)
		}
		raw = b
	} else {
		line, err := bufio.NewReader(io.LimitReader(in, maxTokenInput)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the token from stdin: %w", err)
		}
		raw = []byte(line)
	}
	value := strings.TrimSpace(string(raw))
	if value == "" {
		return "", errors.New("no token read: pipe it on stdin (from a password manager, say) or run in a terminal to be prompted; nothing was created")
	}
	if loc := tokenpattern.Regexp.FindStringIndex(value); loc == nil || loc[0] != 0 || loc[1] != len(value) {
		return "", fmt.Errorf("what was read does not look like a Devin token (%s followed by letters, digits, _ or -); nothing was created",
			tokenpattern.Prefix)
	}
	return value, nil
}
