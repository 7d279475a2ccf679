package devinapi

import (
	"strings"
	"testing"
)

// TestCheckBaseURL: https anywhere, http only to a loopback address, and an error never
// shows a password the URL holds.
func TestCheckBaseURL(t *testing.T) {
	for _, ok := range []string{"https://api.devin.ai", "https://devin.example.com:8443/base", "http://127.0.0.1:8080", "http://localhost", "http://[::1]:9"} {
		if err := CheckBaseURL(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"http://api.devin.ai":           "http only to a loopback address",
		"ftp://api.devin.ai":            "want https",
		"api.devin.ai":                  "want an absolute URL",
		"http://user:s3cret@10.0.0.1/x": "http only to a loopback address",
		"https://%zz":                   "not a URL",
	} {
		err := CheckBaseURL(bad)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", bad, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", bad, err)
		}
	}
}
