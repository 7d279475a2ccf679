// Package release tests the release automation that cannot run here: the GitHub workflows
// are linted, and every make target, tool and path they name exists. The tests are in the
// external test package.
package release
