package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
)

// MaxBody bounds what one download takes in: Microsoft's page is a few KB,
// the Service Tags file about 5 MB.
const MaxBody = 32 << 20

// errTooLarge is a body over MaxBody; reading stops there.
var errTooLarge = fmt.Errorf("the body is larger than %d MiB", MaxBody>>20)

// download GETs url and returns its body: only a 200 answer counts, and
// only its first MaxBody bytes are read.
func download(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	req.Header.Set("User-Agent", "mysqlgw-regions")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s: no answer within the timeout", url)
		}
		return nil, err // names the URL already
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The code's own text, not the server's reason phrase: nothing the
		// server writes reaches the output unquoted.
		return nil, fmt.Errorf("%s: HTTP status %d %s", url, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return nil, fmt.Errorf("%s: the body did not arrive within the timeout", url)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", url, err)
	case len(body) > MaxBody:
		return nil, fmt.Errorf("%s: %w", url, errTooLarge)
	}
	return body, nil
}

// serviceTagsLink finds the weekly file on Microsoft's download page: the
// first URL of a file named ServiceTags_Public_YYYYMMDD.json anywhere in the
// body (the page carries it in a script's JSON, not only in a link).
var serviceTagsLink = regexp.MustCompile(`https?://[^\s"'<>\\]+/ServiceTags_Public_[0-9]{8}\.json`)
