package credential

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// DefaultMintBudget is how many creates upstream one resource may cause per hour when the
// operator names no other budget: a renewal, a repair and a few requested rotations, with
// room to spare. Whatever the reason (a spec that renews at once, a Secret edited again and
// again, a loop nobody foresaw), a resource costs at most this many tokens an hour.
const DefaultMintBudget = 6

// mintWindow is the window the mint budget counts creates in.
const mintWindow = time.Hour

// mintLog remembers, in memory, when each resource's recent creates were sent. Status keeps
// the same times (status.recentIssues, written by the status write that follows each
// create, so the budget survives a restart); memory keeps them even when status is lost or
// rewritten by someone who may write it. The budget counts the larger of the two.
type mintLog struct {
	mu sync.Mutex
	at map[types.UID][]time.Time
}

func (m *mintLog) recent(uid types.UID, now time.Time) []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return within(m.at[uid], now)
}

func (m *mintLog) record(uid types.UID, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.at == nil {
		m.at = map[types.UID][]time.Time{}
	}
	m.at[uid] = append(within(m.at[uid], at), at)
}

func (m *mintLog) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.at, uid)
}

// within keeps the times of the last mintWindow before now. A time up to a window ahead
// (another replica's clock, or someone who may write status) counts too: it can delay this
// resource's next create, never lift the budget; one further ahead is ignored.
func within(ts []time.Time, now time.Time) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if d := now.Sub(t); d < mintWindow && d > -mintWindow {
			out = append(out, t)
		}
	}
	return out
}

func (l *Lifecycle) mintBudget() int {
	if l.MintBudget > 0 {
		return l.MintBudget
	}
	return DefaultMintBudget
}

// mintAllowed refuses, with the time it may mint again, a create past the resource's
// budget. It is asked before the intent is recorded, so that a refused create leaves no
// trace; spendMint then counts the create once its intent is durable, just before it is
// sent (counted even if its answer is lost).
func (l *Lifecycle) mintAllowed(obj Object, now time.Time) error {
	st := obj.CredentialStatus()
	recent := l.recentMints(obj, now)
	if budget := l.mintBudget(); len(recent) >= budget {
		oldest := recent[0]
		for _, t := range recent {
			oldest = minTime(oldest, t)
		}
		again := oldest.Add(mintWindow)
		if again.Before(now) || again.After(now.Add(mintWindow)) {
			again = now.Add(mintWindow)
		}
		msg := fmt.Sprintf("this resource caused %d creates upstream in the last hour, the operator's budget (--mint-budget=%d); it may mint again at %s",
			len(recent), budget, again.UTC().Format(time.RFC3339))
		if c := meta.FindStatusCondition(st.Conditions, iamv1alpha1.ConditionReady); c == nil || c.Reason != iamv1alpha1.ReasonMintBudgetExhausted {
			l.event(obj, corev1.EventTypeWarning, iamv1alpha1.EventMintBudgetExhausted, "Issue", "%s", msg)
			l.Metrics.mintBudgetExhausted(l.Kind)
		}
		return Stall(iamv1alpha1.ReasonMintBudgetExhausted, msg, nil).After(again.Sub(now))
	}
	return nil
}

// recentMints is the resource's creates of the last hour: status's or memory's, whichever
// counts more.
func (l *Lifecycle) recentMints(obj Object, now time.Time) []time.Time {
	var inStatus []time.Time
	for _, t := range obj.CredentialStatus().RecentIssues {
		inStatus = append(inStatus, t.Time)
	}
	inStatus = within(inStatus, now)
	if recent := l.mints.recent(obj.GetUID(), now); len(recent) >= len(inStatus) {
		return recent
	}
	return inStatus
}

// spendMint counts a create about to be sent, in memory and in status.
func (l *Lifecycle) spendMint(obj Object, now time.Time) {
	st := obj.CredentialStatus()
	recent := l.recentMints(obj, now)
	l.mints.record(obj.GetUID(), now)
	st.RecentIssues = nil
	for _, t := range append(recent, now) {
		st.RecentIssues = append(st.RecentIssues, metav1.NewTime(t))
	}
}
