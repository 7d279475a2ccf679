package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// SetChartImage points a copy of the chart at a released image: values.yaml's image
// repository, tag and digest (so that the chart pulls by digest), and Chart.yaml's version
// and appVersion. It edits the lines in place, so the values' comments stay as they are, and
// fails when a line it must change is not there exactly once.
func SetChartImage(chartDir, repository, tag, digest, version string) error {
	if !regexp.MustCompile(`^sha256:[a-f0-9]{64}$`).MatchString(digest) {
		return fmt.Errorf("digest %q is not sha256:<64 hex digits>", digest)
	}
	values := filepath.Join(chartDir, "values.yaml")
	if err := editBlock(values, "image", map[string]string{
		"repository": repository, "tag": strconv.Quote(tag), "digest": strconv.Quote(digest),
	}); err != nil {
		return err
	}
	return editBlock(filepath.Join(chartDir, "Chart.yaml"), "", map[string]string{
		"version": version, "appVersion": strconv.Quote(tag),
	})
}

// editBlock sets keys of a top-level YAML block ("" for the top level itself) to values,
// line by line.
func editBlock(file, block string, set map[string]string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	lines := strings.Split(string(data), "\n")
	indent, in := "", block == ""
	if block != "" {
		indent = "  "
	}
	done := map[string]int{}
	for i, line := range lines {
		if block != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#") && line != "" {
			in = line == block+":"
			continue
		}
		if !in {
			continue
		}
		for k, v := range set {
			if strings.HasPrefix(line, indent+k+":") {
				lines[i] = indent + k + ": " + v
				done[k]++
			}
		}
	}
	var missing []string
	for k := range set {
		if done[k] != 1 {
			missing = append(missing, fmt.Sprintf("%s (found %d times)", k, done[k]))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%s: block %q: cannot set %s", file, block, strings.Join(missing, ", "))
	}
	return os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644)
}

// CheckPlatforms fails unless the layout's index holds exactly the wanted platforms.
func CheckPlatforms(dir string, want []string) error {
	imgs, err := PlatformImages(dir)
	if err != nil {
		return err
	}
	var have []string
	for k := range imgs {
		have = append(have, strings.Replace(k, "-", "/", 1))
	}
	slices.Sort(have)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		return fmt.Errorf("the index in %s holds %v, want %v", dir, have, want)
	}
	return nil
}

func runChart(args []string) error {
	fs := flag.NewFlagSet("chart", flag.ContinueOnError)
	repository := fs.String("repository", "", "image repository")
	tag := fs.String("tag", "", "image tag (the release, e.g. v0.1.0): the chart's appVersion")
	digest := fs.String("digest", "", "image digest (sha256:...)")
	version := fs.String("version", "", "the chart's version (e.g. 0.1.0)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *repository == "" || *tag == "" || *version == "" {
		return errors.New("usage: image chart -repository R -tag T -digest D -version V CHART_DIR")
	}
	return SetChartImage(fs.Arg(0), *repository, *tag, *digest, *version)
}

func runPlatforms(args []string) error {
	fs := flag.NewFlagSet("platforms", flag.ContinueOnError)
	want := fs.String("want", "linux/amd64,linux/arm64", "the platforms the index must hold, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: image platforms -want P1,P2 LAYOUT")
	}
	if err := CheckPlatforms(fs.Arg(0), strings.Split(*want, ",")); err != nil {
		return err
	}
	fmt.Println("platforms:", *want)
	return nil
}
