package main

// Questions about module paths, versions and patterns (golang.org/x/mod/module, semver,
// the standard library's path.Match and strings.EqualFold).

import (
	"path"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

func init() {
	register("escape_path", oneString("path", module.EscapePath))
	register("unescape_path", oneString("escaped", module.UnescapePath))
	register("escape_version", oneString("version", module.EscapeVersion))
	register("unescape_version", oneString("escaped", module.UnescapeVersion))
	register("check_path", checkOne("path", module.CheckPath))
	register("check_import_path", checkOne("path", module.CheckImportPath))
	register("check_file_path", checkOne("path", module.CheckFilePath))
	register("check", opCheck)
	register("split_path_version", opSplitPathVersion)
	register("check_path_major", opCheckPathMajor)
	register("canonical_version", opCanonicalVersion)
	register("module_sort", opModuleSort)
	register("semver", opSemver)
	register("semver_compare", opSemverCompare)
	register("semver_sort", opSemverSort)
	register("pseudo", opPseudo)
	register("pseudo_version", opPseudoVersion)
	register("match_prefix_patterns", opMatchPrefixPatterns)
	register("path_match", opPathMatch)
	register("equal_fold", opEqualFold)
}

func oneString(name string, f func(string) (string, error)) handler {
	return func(req request) (map[string]any, error) {
		s, err := str(req, name)
		if err != nil {
			return nil, err
		}
		result, ferr := f(s)
		return map[string]any{"result": result, "err": errText(ferr)}, nil
	}
}

func checkOne(name string, f func(string) error) handler {
	return func(req request) (map[string]any, error) {
		s, err := str(req, name)
		if err != nil {
			return nil, err
		}
		return map[string]any{"err": errText(f(s))}, nil
	}
}

func opCheck(req request) (map[string]any, error) {
	p, err := str(req, "path")
	if err != nil {
		return nil, err
	}
	v, err := str(req, "version")
	if err != nil {
		return nil, err
	}
	return map[string]any{"err": errText(module.Check(p, v))}, nil
}

func opSplitPathVersion(req request) (map[string]any, error) {
	p, err := str(req, "path")
	if err != nil {
		return nil, err
	}
	prefix, major, ok := module.SplitPathVersion(p)
	return map[string]any{"prefix": prefix, "path_major": major, "ok": ok}, nil
}

func opCheckPathMajor(req request) (map[string]any, error) {
	v, err := str(req, "version")
	if err != nil {
		return nil, err
	}
	major, err := str(req, "path_major")
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"err":   errText(module.CheckPathMajor(v, major)),
		"match": module.MatchPathMajor(v, major),
	}, nil
}

func opCanonicalVersion(req request) (map[string]any, error) {
	v, err := str(req, "version")
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": module.CanonicalVersion(v)}, nil
}

func opModuleSort(req request) (map[string]any, error) {
	var pairs [][2]string
	if err := arg(req, "list", &pairs); err != nil {
		return nil, err
	}
	list := make([]module.Version, len(pairs))
	for i, p := range pairs {
		list[i] = module.Version{Path: p[0], Version: p[1]}
	}
	module.Sort(list)
	out := make([][2]string, len(list))
	for i, m := range list {
		out[i] = [2]string{m.Path, m.Version}
	}
	return map[string]any{"result": out}, nil
}

func opSemver(req request) (map[string]any, error) {
	v, err := str(req, "version")
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"is_valid":    semver.IsValid(v),
		"canonical":   semver.Canonical(v),
		"major":       semver.Major(v),
		"major_minor": semver.MajorMinor(v),
		"prerelease":  semver.Prerelease(v),
		"build":       semver.Build(v),
	}, nil
}

func opSemverCompare(req request) (map[string]any, error) {
	v, err := str(req, "v")
	if err != nil {
		return nil, err
	}
	w, err := str(req, "w")
	if err != nil {
		return nil, err
	}
	return map[string]any{"compare": semver.Compare(v, w), "max": semver.Max(v, w)}, nil
}

func opSemverSort(req request) (map[string]any, error) {
	var list []string
	if err := arg(req, "list", &list); err != nil {
		return nil, err
	}
	semver.Sort(list)
	return map[string]any{"result": list}, nil
}

func opPseudo(req request) (map[string]any, error) {
	v, err := str(req, "version")
	if err != nil {
		return nil, err
	}
	base, baseErr := module.PseudoVersionBase(v)
	rev, revErr := module.PseudoVersionRev(v)
	t, timeErr := module.PseudoVersionTime(v)
	timeText := ""
	if timeErr == nil {
		timeText = t.UTC().Format(time.RFC3339)
	}
	return map[string]any{
		"is_pseudo":      module.IsPseudoVersion(v),
		"is_zero_pseudo": module.IsZeroPseudoVersion(v),
		"base":           base,
		"base_err":       errText(baseErr),
		"rev":            rev,
		"rev_err":        errText(revErr),
		"time":           timeText,
		"time_err":       errText(timeErr),
	}, nil
}

func opPseudoVersion(req request) (map[string]any, error) {
	major, err := str(req, "major")
	if err != nil {
		return nil, err
	}
	older, err := str(req, "older")
	if err != nil {
		return nil, err
	}
	rev, err := str(req, "rev")
	if err != nil {
		return nil, err
	}
	timeText, err := str(req, "time")
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339, timeText)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"result": module.PseudoVersion(major, older, t, rev),
		"zero":   module.ZeroPseudoVersion(major),
	}, nil
}

func opMatchPrefixPatterns(req request) (map[string]any, error) {
	globs, err := str(req, "globs")
	if err != nil {
		return nil, err
	}
	target, err := str(req, "target")
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": module.MatchPrefixPatterns(globs, target)}, nil
}

func opPathMatch(req request) (map[string]any, error) {
	pattern, err := str(req, "pattern")
	if err != nil {
		return nil, err
	}
	name, err := str(req, "name")
	if err != nil {
		return nil, err
	}
	ok, merr := path.Match(pattern, name)
	return map[string]any{"result": ok, "err": errText(merr)}, nil
}

func opEqualFold(req request) (map[string]any, error) {
	a, err := str(req, "a")
	if err != nil {
		return nil, err
	}
	b, err := str(req, "b")
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": strings.EqualFold(a, b)}, nil
}
