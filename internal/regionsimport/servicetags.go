package regionsimport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"unicode"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// tagsReader streams a Service Tags file (ServiceTags_Public_YYYYMMDD.json):
//
//	{"changeNumber": 329, "cloud": "Public", "values": [
//	  {"name": "Sql.EastUS2", "id": "Sql.EastUS2", "properties": {
//	    "changeNumber": 18, "region": "eastus2", "regionId": 33, "platform": "Azure",
//	    "systemService": "AzureSQL", "addressPrefixes": ["40.79.84.180/32", ...],
//	    "networkFeatures": ["API", "NSG", "UDR", "FW"]}}, ...]}
//
// one token at a time, so only the selected values are kept. Every value's
// shape is checked; errors and warnings name the JSON path.
type tagsReader struct {
	dec    *json.Decoder
	source string
	prefix string // "Sql.", compared without regard to case
	// redirect reads each value as its region's Redirect set (redirect.go)
	// rather than as gateways and subnets.
	redirect bool
	warn     warnings
	kept     int // bytes of the selected values' region names and prefixes
}

// readServiceTags imports the <tag>.<Region> values of a Service Tags file.
func readServiceTags(in io.Reader, source string, opt Options) (Result, error) {
	tag := opt.Tag
	if tag == "" {
		tag = DefaultTag
	}
	r := &tagsReader{dec: json.NewDecoder(in), source: source, prefix: tag + ".", redirect: opt.Redirect}
	r.dec.UseNumber()
	var (
		res       Result
		change    json.Number
		cloud     string
		seenKey   = make(map[string]bool)
		seenValue = make(map[string]string) // region name -> path of its value
		total     int
	)
	if err := r.delim('{', ""); err != nil {
		return Result{}, err
	}
	for r.dec.More() {
		key, err := r.string("") // a key: the decoder has checked it is a string
		if err != nil {
			return Result{}, err
		}
		if seenKey[key] {
			return Result{}, r.errorf(member("", key), "given twice")
		}
		seenKey[key] = true
		switch key {
		case "changeNumber":
			if change, err = r.number(key); err != nil {
				return Result{}, err
			}
		case "cloud":
			if cloud, err = r.string(key); err != nil {
				return Result{}, err
			}
		case "values":
			if err := r.delim('[', key); err != nil {
				return Result{}, err
			}
			for i := 0; r.dec.More(); i++ {
				path := fmt.Sprintf("values[%d]", i)
				b, err := r.value(path)
				if err != nil {
					return Result{}, err
				}
				total++
				if b == nil {
					continue
				}
				if prev, ok := seenValue[b.name]; ok {
					return Result{}, r.errorf(path+".name", "region %s is already %s", b.name, prev)
				}
				seenValue[b.name] = path
				if region, ok := b.build(r.warn.add); ok {
					res.Table.Regions = append(res.Table.Regions, region)
				}
			}
			if err := r.delim(']', key); err != nil {
				return Result{}, err
			}
		default:
			if err := r.skip(member("", key)); err != nil {
				return Result{}, err
			}
		}
	}
	if err := r.delim('}', ""); err != nil {
		return Result{}, err
	}
	if _, err := r.dec.Token(); err != io.EOF {
		var large *tooLarge
		if errors.As(err, &large) {
			return Result{}, err
		}
		return Result{}, fmt.Errorf("%s: offset %d: data after the end of the top-level object", source, r.dec.InputOffset())
	}
	if !seenKey["values"] {
		return Result{}, r.errorf("values", "missing: this is not a Service Tags file")
	}
	res.Warnings = r.warn
	if r.redirect {
		// The serial is the gateway table's: changeNumber is only told.
		res.Header = []string{
			"Redirect sets imported by mysqlgw-regions from " + source,
			fmt.Sprintf("Service Tags, cloud %s, changeNumber %s: %d of %d values are %s<Region>; each one's prefixes are its region's Redirect set",
				gwtable.Quote(cloud), orNone(change), len(res.Table.Regions), total, tag+"."),
		}
		return res, nil
	}
	res.Header = []string{
		"Imported by mysqlgw-regions from " + source,
		fmt.Sprintf("Service Tags, cloud %s, changeNumber %s: %d of %d values are %s<Region>; /32 and /128 prefixes are gateways, wider ones subnets",
			gwtable.Quote(cloud), orNone(change), len(res.Table.Regions), total, gwtable.QuoteUnlessPlain(tag+".", gwtable.MaxQuoted)),
	}
	if change != "" {
		n, err := strconv.ParseUint(string(change), 10, 32)
		if err != nil {
			return Result{}, r.errorf("changeNumber", "%s is not a serial (a whole number from 0 to 4294967295)", orNone(change))
		}
		res.Table.Serial, res.Table.HasSerial = uint32(n), true
		res.Header = append(res.Header, fmt.Sprintf("$SERIAL %d from changeNumber", n))
	}
	return res, nil
}

// orNone shows a number of the input: as it is (JSON's digits, sign, point
// and exponent) unless it is long.
func orNone(n json.Number) string {
	if n == "" {
		return "(none)"
	}
	return gwtable.QuoteUnlessPlain(string(n), 20)
}

// member is the JSON path of key in the object at path: path.key, or
// path["key"] quoted short when the key is not a plain name, so that no key
// of the input reaches a message raw.
func member(path, key string) string {
	plain := key != "" && len(key) <= 64
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	switch {
	case !plain:
		return path + "[" + gwtable.Quote(key) + "]"
	case path == "":
		return key
	}
	return path + "." + key
}

// value reads values[i]. It returns nil for a value of another tag.
func (r *tagsReader) value(path string) (*regionBuilder, error) {
	if err := r.delim('{', path); err != nil {
		return nil, err
	}
	var (
		name     string
		hasName  bool
		prefixes []string
		props    bool
		propPath = path + ".properties"
	)
	for r.dec.More() {
		key, err := r.string(path) // a key: the decoder has checked it is a string
		if err != nil {
			return nil, err
		}
		switch key {
		case "name":
			if name, err = r.string(path + ".name"); err != nil {
				return nil, err
			}
			hasName = true
		case "id":
			if _, err = r.string(path + ".id"); err != nil {
				return nil, err
			}
		case "properties":
			props = true
			keep := !hasName || r.selects(name) // Microsoft puts the name first
			if prefixes, err = r.properties(propPath, keep); err != nil {
				return nil, err
			}
		default:
			if err := r.skip(member(path, key)); err != nil {
				return nil, err
			}
		}
	}
	if err := r.delim('}', path); err != nil {
		return nil, err
	}
	switch {
	case !hasName:
		return nil, r.errorf(path, "has no name")
	case !r.selects(name):
		return nil, nil
	case !props:
		return nil, r.errorf(path, "%s has no properties", gwtable.Quote(name))
	}
	suffix := name[len(r.prefix):]
	b := &regionBuilder{name: strings.ToLower(suffix), where: r.source + ": " + path, redirectSet: r.redirect}
	if r.redirect && !strings.ContainsFunc(suffix, unicode.IsSpace) {
		// Matched with the gateway table's regions, whose names are
		// Azure's: Sql.FranceCentral is francecentral, whatever its
		// properties.region says. A name with blanks stays as it is, and
		// CheckRegionName refuses it: AzureRegionName would drop them.
		b.name = gwtable.AzureRegionName(suffix)
	}
	if err := gwtable.CheckRegionName(b.name); err != nil {
		return nil, r.errorf(path+".name", "%s: %v", gwtable.Quote(name), err)
	}
	if err := r.keep(len(b.name), path+".name"); err != nil {
		return nil, err
	}
	for j, s := range prefixes {
		where := fmt.Sprintf("%s.addressPrefixes[%d]", propPath, j)
		p, err := gwtable.ParseSubnet(s)
		if err != nil {
			return nil, r.errorf(where, "%v", err)
		}
		if r.redirect {
			b.redirect = append(b.redirect, entry[netip.Prefix]{p, r.source + ": " + where})
			continue
		}
		if p.IsSingleIP() { // ParseSubnet has checked the address as ParseAddress would
			b.gateways = append(b.gateways, entry[netip.Addr]{p.Addr(), r.source + ": " + where})
			continue
		}
		b.subnets = append(b.subnets, entry[netip.Prefix]{p, r.source + ": " + where})
	}
	return b, nil
}

// selects reports whether a value's name is <tag>.<Region>.
func (r *tagsReader) selects(name string) bool {
	return len(name) > len(r.prefix) && strings.EqualFold(name[:len(r.prefix)], r.prefix)
}

// properties reads a value's properties, checking the type of every field
// Microsoft documents, and returns its addressPrefixes when keep is set.
func (r *tagsReader) properties(path string, keep bool) ([]string, error) {
	if err := r.delim('{', path); err != nil {
		return nil, err
	}
	var prefixes []string
	for r.dec.More() {
		key, err := r.string(path) // a key: the decoder has checked it is a string
		if err != nil {
			return nil, err
		}
		at := member(path, key)
		switch key {
		case "changeNumber", "regionId":
			_, err = r.number(at)
		case "region", "platform", "systemService":
			_, err = r.string(at)
		case "addressPrefixes":
			prefixes, err = r.strings(at, false, keep)
		case "networkFeatures":
			_, err = r.strings(at, true, false)
		default:
			err = r.skip(at)
		}
		if err != nil {
			return nil, err
		}
	}
	return prefixes, r.delim('}', path)
}

// token reads the next token; the end of input is an error naming path.
func (r *tagsReader) token(path string) (json.Token, error) {
	t, err := r.dec.Token()
	if err == nil {
		return t, nil
	}
	if path == "" {
		path = "the top-level object"
	}
	var (
		syntax *json.SyntaxError
		large  *tooLarge
	)
	switch {
	case errors.As(err, &large):
		return nil, err
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("%s: truncated: the input ends inside %s", r.source, path)
	case errors.As(err, &syntax):
		return nil, fmt.Errorf("%s: offset %d, in %s: %v", r.source, syntax.Offset, path, err)
	}
	return nil, fmt.Errorf("%s: in %s: %w", r.source, path, err)
}

func (r *tagsReader) errorf(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s", r.source, path, fmt.Sprintf(format, args...))
}

// describe names a token's JSON type for an error. Where a value is due,
// the decoder yields only an opening delimiter, a string, a number, a bool
// or null.
func describe(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return "the string " + gwtable.Quote(v)
	case bool:
		return fmt.Sprintf("%t", v)
	case nil:
		return "null"
	}
	return fmt.Sprintf("the number %v", t)
}

func (r *tagsReader) delim(want json.Delim, path string) error {
	t, err := r.token(path)
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		what := map[json.Delim]string{'{': "an object", '[': "an array", '}': "the end of the object", ']': "the end of the array"}[want]
		if path == "" {
			path = "the top level"
		}
		return r.errorf(path, "want %s, got %s", what, describe(t))
	}
	return nil
}

func (r *tagsReader) string(path string) (string, error) {
	t, err := r.token(path)
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", r.errorf(path, "want a string, got %s", describe(t))
	}
	return s, nil
}

func (r *tagsReader) number(path string) (json.Number, error) {
	t, err := r.token(path)
	if err != nil {
		return "", err
	}
	n, ok := t.(json.Number)
	if !ok {
		return "", r.errorf(path, "want a number, got %s", describe(t))
	}
	return n, nil
}

// strings reads an array of strings, or null when nullable, and returns it
// when keep is set.
func (r *tagsReader) strings(path string, nullable, keep bool) ([]string, error) {
	t, err := r.token(path)
	if err != nil {
		return nil, err
	}
	if t == nil && nullable {
		return nil, nil
	}
	if d, ok := t.(json.Delim); !ok || d != '[' {
		return nil, r.errorf(path, "want an array of strings, got %s", describe(t))
	}
	var list []string
	for i := 0; r.dec.More(); i++ {
		s, err := r.string(fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		if keep {
			if err := r.keep(len(s), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return nil, err
			}
			list = append(list, s)
		}
	}
	return list, r.delim(']', path)
}

// keep counts n bytes of a selected name or prefix, and refuses more than
// a regions file the server reads can hold: millions of prefixes would cost
// hundreds of megabytes to build and check before the output's size is known.
func (r *tagsReader) keep(n int, path string) error {
	if r.kept += n + 1; r.kept > gwtable.MaxFileSize {
		return r.errorf(path, "the %s<Region> values hold more than %d bytes of names and prefixes, more than a regions file the server reads", r.prefix, gwtable.MaxFileSize)
	}
	return nil
}

// skip reads past one value of any type.
func (r *tagsReader) skip(path string) error {
	depth := 0
	for {
		t, err := r.token(path)
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}
