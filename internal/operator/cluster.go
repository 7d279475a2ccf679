package operator

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/credential"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// clusterID is the identity of this cluster in upstream names: the flag's value, or one
// derived from the UID of the kube-system namespace, which every cluster has and which is
// made anew when a cluster is built (not when it is restored from an etcd backup: such a
// copy needs --cluster-id).
func clusterID(cfg *rest.Config, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return "", fmt.Errorf("derive the cluster ID: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: "kube-system"}, ns); err != nil {
		return "", fmt.Errorf("derive the cluster ID from the kube-system namespace (or set --cluster-id): %w", err)
	}
	return credential.ClusterID(string(ns.UID)), nil
}
