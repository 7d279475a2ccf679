package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/cogtokens/token-operator/internal/credential"
)

func isConditionTrue(obj credential.Object, condType string) bool {
	return meta.IsStatusConditionTrue(obj.CredentialStatus().Conditions, condType)
}
