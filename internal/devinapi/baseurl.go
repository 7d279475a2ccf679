package devinapi

import (
	"errors"
	"fmt"
	"net"
	"net/url"
)

// CheckBaseURL accepts an https URL, or http to a loopback address only (a local fake or a
// tunnel): a credential is never sent in clear over a network. Errors show the URL without
// its password, and an unparsable one not at all (it may hold a secret).
func CheckBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL; want one such as https://api.devin.ai")
	}
	shown := u.Redacted()
	switch {
	case u.Host == "":
		return fmt.Errorf("%q: want an absolute URL such as https://api.devin.ai", shown)
	case u.Scheme == "https":
		return nil
	case u.Scheme != "http":
		return fmt.Errorf("%q: want https", shown)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return nil
	}
	return fmt.Errorf("%q: http only to a loopback address; the credential must not cross a network in clear", shown)
}
