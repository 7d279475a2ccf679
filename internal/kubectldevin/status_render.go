package kubectldevin

import (
	"fmt"
	"io"
	"strings"
	"time"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// render writes the report for people, kubectl describe style.
func (r *statusReport) render(w io.Writer, now time.Time) {
	state := "Ready"
	if !r.Ready {
		state = "NOT Ready"
	}
	fmt.Fprintf(w, "%s/%s in namespace %s: %s\n", short(r.Kind), r.Name, r.Namespace, state)
	if r.Owner != "" {
		fmt.Fprintf(w, "Owner: %s\n", r.Owner)
	}
	if su := r.ServiceUser; su != nil {
		fmt.Fprintf(w, "Service user: %s %s, role %s, expires %s\n", orDash(su.ID), orDash(su.Name), su.Role, orDash(stamp(su.ExpiresAt, now)))
	}
	if r.Restored {
		fmt.Fprintln(w, "Restored: re-created from a backup, it adopted the credentials its restored Secret's sealed record names")
	}
	if r.Suspended {
		fmt.Fprintln(w, "Suspended: spec.suspend is true, nothing is rotated or repaired")
	}
	if r.Deleting != nil {
		fmt.Fprintf(w, "Being deleted since %s: the operator revokes upstream (spec.deletionPolicy) before it goes\n", stamp(r.Deleting, now))
	}
	r.renderConditions(w)
	r.renderToken(w, now)
	r.renderRevocations(w, now)
	r.renderRestarts(w, now)
	r.renderAdmission(w)
	r.renderEvents(w, now)
}

func (r *statusReport) renderConditions(w io.Writer) {
	fmt.Fprintln(w, "\nConditions:")
	if len(r.Conditions) == 0 {
		fmt.Fprintln(w, "  none yet: the operator has not seen the resource (is it running?)")
	}
	for _, c := range r.Conditions {
		stale := ""
		if c.Stale {
			stale = " [describes an older spec: the operator has not seen the latest change yet]"
		}
		fmt.Fprintf(w, "  %s=%s (%s): %s%s\n", c.Type, c.Status, c.Reason, c.Meaning, stale)
		if c.Message != "" {
			fmt.Fprintf(w, "      %s\n", c.Message)
		}
	}
}

func (r *statusReport) renderToken(w io.Writer, now time.Time) {
	fmt.Fprintln(w, "\nToken:")
	t := r.Token
	if t == nil {
		fmt.Fprintln(w, "  none: the Secret holds no token yet")
		return
	}
	tab := newTable(w)
	tab.row("  ID:", t.ID+" ("+t.Name+")")
	tab.row("  Secret:", t.Secret)
	tab.row("  Issued:", stamp(t.IssuedAt, now))
	tab.row("  Expires:", stamp(t.ExpiresAt, now))
	renewal := t.Renewal
	if t.RenewAt != nil && !r.Suspended && !t.Imported {
		renewal = stamp(t.RenewAt, now) + ": a new token replaces it then"
	}
	tab.row("  Next renewal:", renewal)
	if t.LastRotation != nil {
		tab.row("  Last rotation:", stamp(t.LastRotation, now)+", "+t.LastRotationReason)
	}
	tab.flush()
}

func (r *statusReport) renderRevocations(w io.Writer, now time.Time) {
	fmt.Fprintln(w, "\nPending revocations (replaced tokens still valid):")
	if len(r.PendingRevocations) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	tab := newTable(w, "  ID", "REPLACED", "WAITS FOR")
	for _, p := range r.PendingRevocations {
		tab.row("  "+p.ID, stamp(p.Since, now), p.WaitsFor)
	}
	tab.flush()
}

func (r *statusReport) renderRestarts(w io.Writer, now time.Time) {
	fmt.Fprint(w, "\nRestart targets: ")
	if r.Restarts == nil || len(r.Restarts.Targets) == 0 {
		fmt.Fprintln(w, "none (spec.rolloutRestartTargets)")
		return
	}
	fmt.Fprintln(w, strings.Join(r.Restarts.Targets, ", "))
	if r.Restarts.LastAt != nil {
		fmt.Fprintf(w, "  last restarted %s for token %s: %s\n", stamp(r.Restarts.LastAt, now), r.Restarts.LastToken,
			strings.Join(r.Restarts.Restarted, ", "))
	}
}

func (r *statusReport) renderAdmission(w io.Writer) {
	a := r.Admission
	fmt.Fprintln(w, "\nAdmission:")
	tab := newTable(w)
	if r.Kind == kindPAT {
		tab.row("  Requested by:", a.RequestedBy)
	}
	if rec := a.Record; rec != nil {
		who := rec.User
		if len(rec.Groups) > 0 {
			who += " (groups " + strings.Join(rec.Groups, ", ") + ")"
		}
		if rec.Email != "" {
			who += ", Devin email " + rec.Email
		}
		tab.row("  Recorded requester:", who)
		tab.row("  Admitted by policy:", rec.Policy+", at "+rec.At.UTC().Format(time.RFC3339)+", request "+rec.RequestUID)
		tab.row("  Seal:", "not checked here (no key): the Admitted condition says whether the operator accepts it")
	} else {
		tab.row("  Record:", a.RecordProblem)
	}
	tab.row("  Policy now:", a.Policy+" (status.policy)")
	tab.flush()
}

func (r *statusReport) renderEvents(w io.Writer, now time.Time) {
	fmt.Fprintln(w, "\nRecent events (newest last):")
	switch {
	case r.EventsNote != "":
		fmt.Fprintln(w, "  "+r.EventsNote)
		return
	case len(r.Events) == 0:
		fmt.Fprintln(w, "  none")
		return
	}
	tab := newTable(w, "  WHEN", "TYPE", "REASON", "COUNT", "NOTE")
	for _, e := range r.Events {
		tab.row("  "+stamp(e.Time, now), e.Type, e.Reason, fmt.Sprint(e.Count), e.Note)
	}
	tab.flush()
}

// why says, for the exit message, what keeps the resource from Ready.
func (r *statusReport) why() string {
	for _, t := range []string{iamv1alpha1.ConditionStalled, iamv1alpha1.ConditionReconciling, iamv1alpha1.ConditionReady} {
		for _, c := range r.Conditions {
			if c.Type == t && (c.Status == "True") != (t == iamv1alpha1.ConditionReady) {
				return fmt.Sprintf(": %s=%s, %s: %s", c.Type, c.Status, c.Reason, c.Message)
			}
		}
	}
	if len(r.Conditions) == 0 {
		return ": it has no conditions yet (is the operator running?)"
	}
	return ": its conditions describe an older spec (the operator has not caught up)"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
