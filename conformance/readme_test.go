package conformance_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	update = flag.Bool("update", false, "rewrite the type-mapping section of README.md from the suite's table")
	readme = flag.String("readme", "../README.md", "the README whose type-mapping section is checked (or rewritten)")
)

const (
	beginMarker = "<!-- conformance:begin -->"
	endMarker   = "<!-- conformance:end -->"
	updateCmd   = "go test ./conformance/ -run TestTypeMappingTable -update"
)

// TestTypeMappingTable checks README.md's type-mapping table, between the
// conformance markers, against the table the suite runs; with -update it
// rewrites it (and adds a "## Type mapping" section with the markers at the
// end of the README when they are missing).
func TestTypeMappingTable(t *testing.T) {
	table, err := mappingTable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(*readme)
	if err != nil {
		t.Fatal(err)
	}
	old := string(data)
	text, found, err := splice(old, table)
	if err != nil {
		t.Fatalf("%s: %v", *readme, err)
	}
	if !found {
		if !*update {
			t.Fatalf("%s has no type-mapping section: add a line %s and a line %s where the table "+
				"belongs (or run %s to append a \"## Type mapping\" section with them)",
				*readme, beginMarker, endMarker, updateCmd)
		}
		text = appendSection(old, table)
	}
	if text == old {
		return
	}
	if *update {
		if err := os.WriteFile(*readme, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the type-mapping section of %s", *readme)
		return
	}
	t.Errorf("%s's type-mapping section differs from the conformance table; run %s\nwant:\n%s",
		*readme, updateCmd, table)
}

// splice replaces what stands between the markers in doc with table. found
// is false when doc has neither marker.
func splice(doc, table string) (out string, found bool, err error) {
	b, e := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	switch {
	case b < 0 && e < 0:
		return doc, false, nil
	case b < 0 || e < 0:
		return "", false, fmt.Errorf("only one of %s and %s", beginMarker, endMarker)
	case e < b:
		return "", false, fmt.Errorf("%s comes before %s", endMarker, beginMarker)
	case strings.Count(doc, beginMarker) > 1 || strings.Count(doc, endMarker) > 1:
		return "", false, fmt.Errorf("more than one %s or %s", beginMarker, endMarker)
	}
	return doc[:b+len(beginMarker)] + "\n" + table + doc[e:], true, nil
}

// appendSection appends a "## Type mapping" section holding the markers and
// table to doc.
func appendSection(doc, table string) string {
	if doc != "" && !strings.HasSuffix(doc, "\n") {
		doc += "\n"
	}
	if doc != "" {
		doc += "\n"
	}
	return doc + "## Type mapping\n\n" + beginMarker + "\n" + table + endMarker + "\n"
}

// mappingTable renders the case table as markdown: a row per value kind or
// outcome, a column per codec, each cell the codec's expectation, and a
// legend of the cells that need one. It fails when two cases of one row
// disagree on a codec's cell.
func mappingTable() (string, error) {
	var rows []string
	cells := map[string][]string{}
	from := map[string]string{} // row → the case that set its cells
	var legend []string
	explained := map[string]string{}
	for i := range cases {
		tc := &cases[i]
		if tc.row == "" {
			continue
		}
		var line []string
		for _, codec := range codecs {
			e := tc.expectFor(codec)
			line = append(line, e.cell)
			if e.legend == "" {
				continue
			}
			if prev, ok := explained[e.cell]; ok {
				if prev != e.legend {
					return "", fmt.Errorf("cell %q has two legends: %q and %q", e.cell, prev, e.legend)
				}
				continue
			}
			explained[e.cell] = e.legend
			legend = append(legend, e.cell)
		}
		prev, ok := cells[tc.row]
		if !ok {
			rows = append(rows, tc.row)
			cells[tc.row], from[tc.row] = line, tc.name
			continue
		}
		for j := range line {
			if line[j] != prev[j] {
				return "", fmt.Errorf("row %q: case %q says %s is %q, case %q says %q",
					tc.row, tc.name, codecs[j], line[j], from[tc.row], prev[j])
			}
		}
	}

	// A cell whose codec has a known bug in the row (on any transport)
	// says so: the table states the documented behaviour, which the
	// implementation does not deliver yet.
	bugs := false
	for i := range cases {
		tc := &cases[i]
		for j, codec := range codecs {
			if tc.row != "" && tc.hasBug(codec) && !strings.HasSuffix(cells[tc.row][j], bugMark) {
				cells[tc.row][j] += bugMark
				bugs = true
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "<!-- Generated from conformance/cases_test.go by `%s`; do not edit. -->\n\n", updateCmd)
	b.WriteString("| value or outcome |")
	for _, c := range codecs {
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n|---|")
	for range codecs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + escapeCell(r) + " |")
		for _, c := range cells[r] {
			b.WriteString(" " + escapeCell(c) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, c := range legend {
		fmt.Fprintf(&b, "* **%s**: %s.\n", escapeCell(c), explained[c])
	}
	if bugs {
		b.WriteString("* **" + strings.TrimSpace(bugMark) + "**: the documented behaviour, which a known bug " +
			"keeps the implementation from delivering yet (on some transports or all); see `knownBug` in " +
			"conformance/cases_test.go.\n")
	}
	return b.String(), nil
}

// bugMark marks a cell with a known bug.
const bugMark = " ‡"

// hasBug reports whether the case has a known bug with codec on any
// transport.
func (tc *tcase) hasBug(codec string) bool {
	for k := range tc.knownBug {
		if k == codec || strings.HasSuffix(k, "/"+codec) {
			return true
		}
	}
	return false
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func TestSplice(t *testing.T) {
	const table = "| a |\n"
	doc := "# T\n\nintro\n" + beginMarker + "\nold\n" + endMarker + "\n\nrest\n"
	got, found, err := splice(doc, table)
	if want := "# T\n\nintro\n" + beginMarker + "\n| a |\n" + endMarker + "\n\nrest\n"; err != nil || !found || got != want {
		t.Errorf("splice: %q, %v, %v; want %q", got, found, err, want)
	}
	if again, _, _ := splice(got, table); again != got {
		t.Errorf("splice is not idempotent: %q", again)
	}
	if _, found, err := splice("# T\n", table); found || err != nil {
		t.Errorf("no markers: found %v, %v", found, err)
	}
	for _, bad := range []string{
		beginMarker + "\n",
		endMarker + "\n" + beginMarker + "\n",
		beginMarker + endMarker + beginMarker + endMarker,
	} {
		if _, _, err := splice(bad, table); err == nil {
			t.Errorf("splice(%q): no error", bad)
		}
	}
	appended := appendSection("# T\n\ntext", table)
	if want := "# T\n\ntext\n\n## Type mapping\n\n" + beginMarker + "\n| a |\n" + endMarker + "\n"; appended != want {
		t.Errorf("appendSection: %q; want %q", appended, want)
	}
	if got, found, err := splice(appended, table); !found || err != nil || got != appended {
		t.Errorf("the appended section does not splice back: %q, %v, %v", got, found, err)
	}
}

// TestReadmeProgramsAreExamples: every whole Go program in README.md (a go
// block that starts with "package main") is, byte for byte, one of the
// programs under examples/, which go build and go vet check; so a snippet
// copied from the README compiles as written.
func TestReadmeProgramsAreExamples(t *testing.T) {
	data, err := os.ReadFile(*readme)
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]string{}
	files, err := filepath.Glob(filepath.Join(filepath.Dir(*readme), "examples", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		examples[string(b)] = f
	}
	found := 0
	for i, block := range strings.Split(string(data), "```go\n")[1:] {
		code, _, ok := strings.Cut(block, "```")
		if !ok {
			t.Fatalf("go block %d has no end", i+1)
		}
		if !strings.HasPrefix(code, "package main\n") && !strings.Contains(code, "\npackage main\n") {
			continue
		}
		found++
		if _, ok := examples[code]; !ok {
			t.Errorf("README's go program %d is none of examples/*/main.go; copy it there (or from there):\n%s", i+1, code)
		}
	}
	if found == 0 {
		t.Error("README holds no whole Go program")
	}
}
