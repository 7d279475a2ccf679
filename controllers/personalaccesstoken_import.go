package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// importIssuer is the upstream side of a PersonalAccessToken that imports a token its owner
// generated in the Devin web app (spec.importFrom). It cannot create or revoke tokens (no
// endpoint is published for that): "issuing" copies the owner's token after checking, with
// GET /v3/self, that it is a live personal access token of spec.user; the periodic check
// asks the same of the token the managed Secret holds.
type importIssuer struct {
	owner *patIssuer // resolves spec.user and checks SSO, as for a minted token
	api   PATAPI
	// reader reads Secrets around the cache (a source Secret carries no label of ours); only
	// in the resource's own namespace.
	reader client.Reader
	clock  clock.PassiveClock
	pat    *iamv1alpha1.PersonalAccessToken
}

var _ credential.Issuer = &importIssuer{}

// Prepare resolves the user and refuses an SSO-linked one.
func (i *importIssuer) Prepare(ctx context.Context) error { return i.owner.Prepare(ctx) }

// Issue imports the token of the source Secret once it has proved to be a live personal
// access token of the resource's user. Nothing is created upstream.
func (i *importIssuer) Issue(ctx context.Context, _ string, _ time.Time) (*devinapi.IssuedKey, error) {
	if i.owner.owner == nil {
		if err := i.owner.Prepare(ctx); err != nil {
			return nil, err
		}
	}
	src := i.pat.Spec.ImportFrom
	value, err := i.read(ctx, src.SecretName, src.ImportKey())
	if err != nil {
		return nil, err
	}
	self, err := i.api.SelfWithToken(ctx, devinapi.NewToken(value))
	switch {
	case errors.Is(err, devinapi.ErrUnauthorized):
		return nil, i.refused("does not authenticate (revoked, expired, or not a Devin token): generate a new one in account settings")
	case err != nil:
		return nil, fmt.Errorf("check the token of Secret %s: %w", src.SecretName, err)
	case self.Kind != devinapi.PrincipalPATUser:
		return nil, i.refused("is not a personal access token")
	case self.UserID != i.owner.owner.ID:
		// Say nothing about whose token it is.
		return nil, i.refused(fmt.Sprintf("does not belong to %s", describeUser(i.pat.Spec.User)))
	}
	return &devinapi.IssuedKey{ID: self.APIKeyID, Name: self.APIKeyName, Token: devinapi.NewToken(value)}, nil
}

func (i *importIssuer) refused(why string) error {
	return credential.Stall(iamv1alpha1.ReasonImportRefused, fmt.Sprintf("the token in Secret %q (spec.importFrom) %s", i.pat.Spec.ImportFrom.SecretName, why), nil)
}

// Owned lists the current token when the managed Secret's token still authenticates as it:
// there is no list of a user's tokens to ask.
func (i *importIssuer) Owned(ctx context.Context, _ bool) (credential.Listing, error) {
	at := i.clock.Now()
	st := i.pat.CredentialStatus()
	if st.Token == nil || st.SecretName == "" {
		return credential.Listing{At: at}, nil
	}
	value, err := i.read(ctx, st.SecretName, credential.SecretKey(i.pat))
	if isProblem(err, iamv1alpha1.ReasonImportSourceMissing) {
		return credential.Listing{At: at}, nil
	}
	if err != nil {
		return credential.Listing{}, err
	}
	self, err := i.api.SelfWithToken(ctx, devinapi.NewToken(value))
	switch {
	case errors.Is(err, devinapi.ErrUnauthorized):
		return credential.Listing{At: at}, nil
	case err != nil:
		return credential.Listing{}, fmt.Errorf("check the imported token: %w", err)
	case self.APIKeyID != st.Token.ID:
		return credential.Listing{At: at}, nil
	}
	return credential.Listing{At: at, Keys: []devinapi.APIKey{{ID: self.APIKeyID, Name: self.APIKeyName, IsActive: true}}}, nil
}

// Revoke does nothing: no endpoint to revoke a personal access token is published. The
// lifecycle schedules no revocation of an imported token, and deletion says so.
func (i *importIssuer) Revoke(context.Context, string) error { return nil }

// read returns the value under key of a Secret in the resource's own namespace.
func (i *importIssuer) read(ctx context.Context, name, key string) (string, error) {
	sec := &corev1.Secret{}
	err := i.reader.Get(ctx, types.NamespacedName{Namespace: i.pat.Namespace, Name: name}, sec)
	if apierrors.IsNotFound(err) {
		return "", i.missing(fmt.Sprintf("Secret %q does not exist", name))
	}
	if err != nil {
		return "", fmt.Errorf("read Secret %s: %w", name, err)
	}
	v := sec.Data[key]
	if len(v) == 0 {
		return "", i.missing(fmt.Sprintf("Secret %q has no value under key %q", name, key))
	}
	return string(v), nil
}

func (i *importIssuer) missing(what string) error {
	// Look again soon: the owner is expected to create it.
	return credential.Stall(iamv1alpha1.ReasonImportSourceMissing,
		what+" (spec.importFrom): put the owner's personal access token there, then annotate iam.devin.ai/rotate to import it", nil).After(time.Minute)
}

// Revoked is always true: an imported token that stops working cannot be told apart
// (revoked, expired or deleted in account settings), and only its owner can make another.
func (i *importIssuer) Revoked(context.Context, string) (bool, error) { return true, nil }
