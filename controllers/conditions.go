package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
)

func setCondition(obj credential.Object, condType string, status metav1.ConditionStatus, reason, msg string) {
	conditions.Set(&obj.CredentialStatus().Conditions, obj.GetGeneration(), condType, status, reason, msg)
}

func isConditionTrue(obj credential.Object, condType string) bool {
	return meta.IsStatusConditionTrue(obj.CredentialStatus().Conditions, condType)
}
