package ddns

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
)

// Route53 UPSERTs one record set with ChangeResourceRecordSets, signed with
// SigV4 by the AWS SDK. Only the service client and the SDK core are used,
// not aws-sdk-go-v2/config, whose SSO, STS and instance-metadata providers a
// Pi with a key file has no use for; the credentials come from a shared
// credentials file read at each update.
//
// The record set is written whole, as Route 53 requires: name, type, TTL,
// the one address, and for a failover member its set identifier, failover
// role and health check. The SDK's own retries are off: the Updater retries,
// with its longer backoff. NewProvider builds it from a Config.
type Route53 struct {
	client          *route53.Client
	zoneID          string
	ttl             int64
	setIdentifier   string
	failover        string
	healthCheckID   string
	credentialsFile string
	profile         string
}

// route53Region is the region Route 53, a global service, signs in.
const route53Region = "us-east-1"

func newRoute53(c Config, client *http.Client) *Route53 {
	r := &Route53{
		zoneID:          c.Route53.HostedZoneID,
		ttl:             int64(c.TTL),
		setIdentifier:   c.Route53.SetIdentifier,
		failover:        c.Route53.Failover,
		healthCheckID:   c.Route53.HealthCheckID,
		credentialsFile: c.Route53.CredentialsFile,
		profile:         c.Route53.Profile,
	}
	opts := route53.Options{
		Region:      route53Region,
		Credentials: aws.CredentialsProviderFunc(r.credentials),
		HTTPClient:  client,
		Retryer:     aws.NopRetryer{},
		AppID:       "failberry",
	}
	if c.Route53.Endpoint != "" {
		opts.BaseEndpoint = aws.String(c.Route53.Endpoint)
	}
	r.client = route53.New(opts)
	return r
}

// Update implements Provider.
func (r *Route53) Update(ctx context.Context, name string, addr netip.Addr) error {
	set := &types.ResourceRecordSet{
		Name:            aws.String(name),
		Type:            types.RRType(recordType(addr)),
		TTL:             aws.Int64(r.ttl),
		ResourceRecords: []types.ResourceRecord{{Value: aws.String(addr.String())}},
	}
	if r.failover != "" {
		set.SetIdentifier = aws.String(r.setIdentifier)
		set.Failover = types.ResourceRecordSetFailover(r.failover)
		if r.healthCheckID != "" {
			set.HealthCheckId = aws.String(r.healthCheckID)
		}
	}
	_, err := r.client.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(r.zoneID),
		ChangeBatch: &types.ChangeBatch{
			Comment: aws.String("failberry: cellular address"),
			Changes: []types.Change{{Action: types.ChangeActionUpsert, ResourceRecordSet: set}},
		},
	})
	if err != nil {
		return classifyAWS(err)
	}
	return nil
}

// classifyAWS sorts an SDK error: our own credential problems and the
// service's 4xx refusals (bad key, no permission, no such zone, a change
// batch that does not fit the zone) are permanent; throttling, "prior
// request not complete", 5xx and network errors pass.
func classifyAWS(err error) error {
	var perm *PermanentError
	if errors.As(err, &perm) {
		return perm
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestExpired":
			return &TransientError{Reason: api.ErrorCode(), Err: errStr(api.ErrorMessage())}
		}
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode()/100 == 4 {
			return &PermanentError{Reason: api.ErrorCode(), Err: errStr(api.ErrorMessage())}
		}
		return &TransientError{Reason: api.ErrorCode(), Err: errStr(api.ErrorMessage())}
	}
	return &TransientError{Reason: "route53", Err: err}
}

// credentials reads the profile from the shared credentials file (the INI
// format of ~/.aws/credentials).
func (r *Route53) credentials(context.Context) (aws.Credentials, error) {
	data, err := readSecret("route53.credentials_file", r.credentialsFile)
	if err != nil {
		return aws.Credentials{}, err
	}
	keys := parseProfile(data, r.profile)
	c := aws.Credentials{
		AccessKeyID:     keys["aws_access_key_id"],
		SecretAccessKey: keys["aws_secret_access_key"],
		SessionToken:    keys["aws_session_token"],
		Source:          r.credentialsFile,
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return aws.Credentials{}, &PermanentError{Reason: "route53.credentials_file", Err: fmt.Errorf(
			"%s has no aws_access_key_id and aws_secret_access_key under [%s]", r.credentialsFile, r.profile)}
	}
	return c, nil
}

// parseProfile returns the key = value pairs of section [profile] of an INI
// file; comments (# or ;) and other sections are skipped.
func parseProfile(data []byte, profile string) map[string]string {
	keys := map[string]string{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			in = strings.TrimSpace(line[1:len(line)-1]) == profile
		case in:
			if k, v, ok := strings.Cut(line, "="); ok {
				keys[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
	}
	return keys
}
