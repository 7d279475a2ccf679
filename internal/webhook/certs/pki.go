package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The certificates of webhookCerts: what its Secret holds, when they are due, how they are
// issued, and how the files of the webhook server are written.

// webhookCertSet is the content of the Secret, parsed. ca and serving are nil when missing or
// unusable.
type webhookCertSet struct {
	ca      *x509.Certificate
	caKey   crypto.Signer
	trusted []*x509.Certificate // ca.crt: ca first, then previous CAs
	serving *x509.Certificate
	data    map[string][]byte
}

func parseWebhookCerts(data map[string][]byte) *webhookCertSet {
	s := &webhookCertSet{data: data, trusted: parseCerts(data[caCertKey])}
	caKey, err := parseKey(data[caKeyKey])
	if len(s.trusted) == 0 || err != nil || !s.trusted[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(caKey.Public()) {
		return s
	}
	s.ca, s.caKey = s.trusted[0], caKey
	if pair, err := tls.X509KeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey]); err == nil {
		s.serving = pair.Leaf
	}
	return s
}

// renewAt is when two thirds of a certificate's lifetime have passed.
func renewAt(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

// due says what a certificate set needs at now: a new CA (and so a new serving certificate),
// a new serving certificate, or nothing.
func (w *webhookCerts) due(now time.Time, s *webhookCertSet) (newCA, newServing bool) {
	if s.ca == nil || !s.ca.IsCA || !now.Before(renewAt(s.ca)) {
		return true, true
	}
	if s.serving == nil || !now.Before(renewAt(s.serving)) || !slices.Equal(s.serving.DNSNames, w.dnsNames) ||
		s.serving.CheckSignatureFrom(s.ca) != nil {
		return false, true
	}
	return false, false
}

// renew issues a serving certificate, and first a CA when newCA, and returns the Secret's new
// data. The trusted CAs are the new CA followed by the previous ones that have not expired.
func (w *webhookCerts) renew(now time.Time, old *webhookCertSet, newCA bool) (map[string][]byte, error) {
	ca, caKey := old.ca, old.caKey
	trusted := old.trusted
	if newCA {
		var err error
		ca, caKey, err = issueCert(&x509.Certificate{
			Subject:   pkix.Name{CommonName: "token-operator webhook CA " + w.secret.String()},
			NotBefore: now.Add(-certBackdate), NotAfter: now.Add(webhookCAValidity),
			IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		}, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("issue webhook CA: %w", err)
		}
		trusted = append([]*x509.Certificate{ca}, trusted...)
	}
	servingTmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: w.dnsNames[0]},
		DNSNames:  w.dnsNames,
		NotBefore: now.Add(-certBackdate), NotAfter: now.Add(webhookServingValidity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if servingTmpl.NotAfter.After(ca.NotAfter) {
		servingTmpl.NotAfter = ca.NotAfter
	}
	cert, key, err := issueCert(servingTmpl, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("issue webhook serving certificate: %w", err)
	}
	var bundle []byte
	for _, c := range trusted {
		if c == ca || now.Before(c.NotAfter) {
			bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	caKeyPEM, err := encodeKey(caKey)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		caCertKey: bundle, caKeyKey: caKeyPEM,
		corev1.TLSCertKey: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), corev1.TLSPrivateKeyKey: keyPEM,
	}, nil
}

// hasNewerCA reports whether a bundle trusts a CA of the same name issued after ca.
func hasNewerCA(bundle []byte, ca *x509.Certificate) bool {
	for _, c := range parseCerts(bundle) {
		if c.Subject.CommonName == ca.Subject.CommonName && c.NotBefore.After(ca.NotBefore) {
			return true
		}
	}
	return false
}

// ensureServable writes a throwaway self-signed certificate when the webhook server's
// directory has none: controller-runtime's webhook server reads it when it starts, before
// the first sync. Nothing trusts it, and the pod is not ready while it is there, so no
// admission request meets it.
func (w *webhookCerts) ensureServable() error {
	if _, err := tls.LoadX509KeyPair(w.certFile, w.keyFile); err == nil {
		return nil
	}
	now := w.clock.Now()
	cert, key, err := issueCert(&x509.Certificate{
		Subject:   pkix.Name{CommonName: "token-operator placeholder, not trusted"},
		NotBefore: now.Add(-certBackdate), NotAfter: now.Add(24 * time.Hour),
	}, nil, nil)
	if err != nil {
		return fmt.Errorf("issue placeholder certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(w.certFile), 0o700); err != nil {
		return fmt.Errorf("create the webhook certificate directory: %w", err)
	}
	if err := writeFileAtomic(w.keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(w.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// issueCert signs tmpl with a new P-256 key and a random serial, by parent or, when parent
// is nil, by itself.
func issueCert(tmpl, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)); err != nil {
		return nil, nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM key")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T is not a signing key", key)
	}
	return signer, nil
}

// parseCerts returns the certificates of a PEM bundle, skipping what does not parse.
func parseCerts(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if c, err := x509.ParseCertificate(block.Bytes); err == nil && block.Type == "CERTIFICATE" {
			out = append(out, c)
		}
	}
	return out
}

// writeFileAtomic replaces a file by renaming a complete temporary file over it, so that a
// reader never sees half of it; unchanged content is not written.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
