package kubectldevin

import (
	"context"
	"fmt"
	"sort"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// recentEvents is how many of a resource's events status shows, newest last.
const recentEvents = 10

// eventReport is one event about the resource.
type eventReport struct {
	Time   *metav1.Time `json:"time,omitempty"`
	Type   string       `json:"type"`
	Reason string       `json:"reason"`
	Note   string       `json:"note"`
	// Count is how many times it happened (a series counts its repeats).
	Count int32 `json:"count"`
}

// events lists the events (events.k8s.io/v1) regarding obj, newest last. A caller who may
// not list events gets none and a note saying so: the rest of the status still answers.
func (s *session) events(ctx context.Context, obj client.Object) ([]eventReport, string, error) {
	list := &eventsv1.EventList{}
	err := s.client.List(ctx, list, client.InNamespace(obj.GetNamespace()),
		client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("regarding.uid", string(obj.GetUID()))})
	if apierrors.IsForbidden(err) {
		return nil, fmt.Sprintf("you may not list events in namespace %s (events.k8s.io): no events shown", obj.GetNamespace()), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("list the events of %s: %w", obj.GetName(), err)
	}
	var out []eventReport
	for i := range list.Items {
		ev := &list.Items[i]
		if ev.Regarding.UID != obj.GetUID() {
			continue
		}
		out = append(out, eventReport{Time: lastSeen(ev), Type: ev.Type, Reason: ev.Reason, Note: ev.Note, Count: count(ev)})
	}
	sort.SliceStable(out, func(i, j int) bool { return before(out[i].Time, out[j].Time) })
	if len(out) > recentEvents {
		out = out[len(out)-recentEvents:]
	}
	return out, "", nil
}

// lastSeen is when the event last happened: its series' last observation, its time, or (an
// event written through the core API) its last timestamp.
func lastSeen(ev *eventsv1.Event) *metav1.Time {
	switch {
	case ev.Series != nil && !ev.Series.LastObservedTime.IsZero():
		return &metav1.Time{Time: ev.Series.LastObservedTime.Time}
	case !ev.EventTime.IsZero():
		return &metav1.Time{Time: ev.EventTime.Time}
	case !ev.DeprecatedLastTimestamp.IsZero():
		return &ev.DeprecatedLastTimestamp
	}
	return &ev.CreationTimestamp
}

func count(ev *eventsv1.Event) int32 {
	switch {
	case ev.Series != nil:
		return ev.Series.Count
	case ev.DeprecatedCount > 0:
		return ev.DeprecatedCount
	}
	return 1
}

func before(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return b != nil
	}
	return a.Before(b)
}
