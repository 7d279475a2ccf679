package reliability

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// auditEvent is the part of an audit log entry this test reads.
type auditEvent struct {
	Verb string `json:"verb"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		APIGroup    string `json:"apiGroup"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Stage       string            `json:"stage"`
	Annotations map[string]string `json:"annotations"`
}

// TestZZLeastPrivilege runs after the other tests of the suite (files run in name order) and
// reads the API server's audit log of everything the operator's user did during them. The
// manager's ClusterRole (config/rbac/role.yaml) must grant nothing the operator did not use,
// and the operator must never have been refused.
func TestZZLeastPrivilege(t *testing.T) {
	used := map[string]bool{}
	var forbidden []string
	f, err := os.Open(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev auditEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.User.Username != operatorUser || ev.ObjectRef == nil || ev.Stage != "ResponseComplete" {
			continue
		}
		res := ev.ObjectRef.Resource
		if ev.ObjectRef.Subresource != "" {
			res += "/" + ev.ObjectRef.Subresource
		}
		key := ev.ObjectRef.APIGroup + "|" + res + "|" + ev.Verb
		used[key] = true
		// Refused by RBAC, not by admission (e.g. no new events in a Terminating namespace).
		if ev.Annotations["authorization.k8s.io/decision"] == "forbid" {
			forbidden = append(forbidden, key)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(used) == 0 {
		t.Fatal("the audit log holds nothing of the operator: the test proves nothing")
	}
	if len(forbidden) > 0 {
		t.Errorf("the operator was refused: %v", forbidden)
	}

	role := &rbacv1.ClusterRole{}
	if err := readYAML(filepath.Join(env.RepoRoot, "config", "rbac", "role.yaml"), role); err != nil {
		t.Fatal(err)
	}
	var unused []string
	for _, rule := range role.Rules {
		for _, g := range rule.APIGroups {
			for _, r := range rule.Resources {
				for _, v := range rule.Verbs {
					if strings.HasSuffix(r, "/finalizers") && v == "update" {
						// Not a request of its own: the OwnerReferencesPermissionEnforcement
						// admission plugin (on in this suite) checks it when the operator sets
						// blockOwnerDeletion on a Secret, which every mint here did.
						continue
					}
					if v == "list" && used[g+"|"+r+"|watch"] {
						// client-go's informers list through a streaming watch
						// (sendInitialEvents) where the API server supports it, and fall back
						// to LIST where it does not (Kubernetes before 1.34): both are needed.
						continue
					}
					if !used[g+"|"+r+"|"+v] {
						unused = append(unused, g+"|"+r+"|"+v)
					}
				}
			}
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		var seen []string
		for k := range used {
			seen = append(seen, k)
		}
		sort.Strings(seen)
		t.Errorf("manager-role grants what the operator never used: %v\nused: %v", unused, seen)
	}
}
