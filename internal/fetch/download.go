package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"

	"github.com/mysqlgw/mysqlgw/internal/gwtable"
)

// MaxBody bounds what one download takes in: Microsoft's page is a few KB,
// the Service Tags file about 5 MB.
const MaxBody = 32 << 20

// errTooLarge is a body over MaxBody; reading stops there.
var errTooLarge = fmt.Errorf("the body is larger than %d MiB", MaxBody>>20)

// download GETs rawURL and returns its body and the URL it came from, after
// redirects: only a 200 answer counts, and only its first MaxBody bytes are
// read. Redirects are followed to any host (Microsoft's download page sends
// the file from download.microsoft.com, GitHub's raw files may move) but
// never from https to http. Errors name the URL as shown (see shown) and
// quote the HTTP client's own text short, since it can carry what a server
// sent.
func download(ctx context.Context, client *http.Client, rawURL string) (body []byte, final string, err error) {
	name := shown(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %s", name, cause(err))
	}
	req.Header.Set("User-Agent", "mysqlgw-regions")
	redirecting := *client
	redirecting.CheckRedirect = checkRedirect
	resp, err := redirecting.Do(req)
	var downgrade *downgradeError
	switch {
	case errors.As(err, &downgrade):
		return nil, "", downgrade
	case errors.Is(err, context.DeadlineExceeded):
		return nil, "", fmt.Errorf("%s: no answer within the timeout", name)
	case err != nil:
		return nil, "", fmt.Errorf("%s: %s", name, cause(err))
	}
	defer resp.Body.Close()
	final = rawURL // as given, when no redirect moved it
	if u := resp.Request.URL.String(); u != req.URL.String() {
		final = u
		name = shown(final) + " (redirected from " + name + ")"
	}
	if resp.StatusCode != http.StatusOK {
		// The code's own text, not the server's reason phrase: nothing the
		// server writes reaches the output unquoted.
		return nil, "", fmt.Errorf("%s: HTTP status %d %s", name, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return nil, "", fmt.Errorf("%s: the body did not arrive within the timeout", name)
	case err != nil:
		return nil, "", fmt.Errorf("%s: %s", name, cause(err))
	case len(body) > MaxBody:
		return nil, "", fmt.Errorf("%s: %w", name, errTooLarge)
	}
	return body, final, nil
}

// maxRedirects is how many redirects one download follows, as net/http's
// default.
const maxRedirects = 10

// checkRedirect lets a download follow a redirect to any host, but not
// from https to anything else: a table asked for over https is not fetched
// where anyone on the path can change it.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	for _, v := range via {
		if v.URL.Scheme == "https" && req.URL.Scheme != "https" {
			return &downgradeError{from: via[len(via)-1].URL.String(), how: "redirects to", to: req.URL.String()}
		}
	}
	return nil
}

// downgradeError is a step from https to http, refused: a redirect, or a
// link on Microsoft's download page (how says which).
type downgradeError struct{ from, how, to string }

func (e *downgradeError) Error() string {
	return fmt.Sprintf("%s %s %s: refused, a download that began over https does not go on over http", shown(e.from), e.how, shown(e.to))
}

// shown is a URL as messages and the regions file's comments show it: as
// it is when it could be a $SOURCE (printable ASCII, at most
// gwtable.MaxSourceLen bytes), else quoted short. A link found on a page,
// or where a redirect leads, comes from the network.
func shown(rawURL string) string { return gwtable.QuoteUnlessPlain(rawURL, gwtable.MaxSourceLen) }

// maxCause bounds the HTTP client's text in a message: a malformed answer's
// first line, a certificate's names.
const maxCause = 200

// cause is err's text without the URL (a *url.Error's, which the message
// names already), quoted short unless it is plain.
func cause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return gwtable.QuoteUnlessPlain(err.Error(), maxCause)
}

// serviceTagsLink finds the weekly file on Microsoft's download page: the
// first URL of a file named ServiceTags_Public_YYYYMMDD.json anywhere in the
// body (the page carries it in a script's JSON, not only in a link).
var serviceTagsLink = regexp.MustCompile(`https?://[^\s"'<>\\]+/ServiceTags_Public_[0-9]{8}\.json`)
