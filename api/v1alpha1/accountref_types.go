package v1alpha1

// Account kinds a resource's accountRef may name.
const (
	KindDevinAccount        = "DevinAccount"
	KindClusterDevinAccount = "ClusterDevinAccount"
	// DefaultAccount is what status.account says of a resource without accountRef.
	DefaultAccount = "default"
)

// AccountRef names a Devin account: a DevinAccount in the resource's own namespace (a
// reference to another namespace cannot be written), or a ClusterDevinAccount.
type AccountRef struct {
	// Kind is DevinAccount or ClusterDevinAccount.
	// +kubebuilder:validation:Enum=DevinAccount;ClusterDevinAccount
	Kind string `json:"kind"`
	// Name is the account's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// String names the account as status.account does.
func (r *AccountRef) String() string {
	if r == nil {
		return DefaultAccount
	}
	return r.Kind + "/" + r.Name
}

// AccountFinalizer keeps a DevinAccount or ClusterDevinAccount while resources act through
// it: deleting it (or its namespace) waits until they have revoked their credentials.
// AccountSecretFinalizer does the same for the Secret that holds its credential.
const (
	AccountFinalizer       = "iam.devin.ai/account-in-use"
	AccountSecretFinalizer = "iam.devin.ai/account-credential"
)
