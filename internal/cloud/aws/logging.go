package aws

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// subsystem is the tflog subsystem of the driver.
const subsystem = "aws"

// logContext returns ctx with the driver's tflog subsystem set up.
func logContext(ctx context.Context) context.Context {
	return tflog.NewSubsystem(ctx, subsystem)
}

// apiOptions adds request logging to every client built from the SDK
// config.
var apiOptions = []func(*middleware.Stack) error{addRequestLogging}

type attemptCounterKey struct{}

// addRequestLogging logs each attempt of each request: service, operation,
// region, HTTP status, duration, attempt number, request id and error code.
// It never logs headers or bodies, so no credential or user data reaches
// the log.
func addRequestLogging(stack *middleware.Stack) error {
	counter := middleware.InitializeMiddlewareFunc("HaddockAttemptCounter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(middleware.WithStackValue(ctx, attemptCounterKey{}, new(atomic.Int32)), in)
		})
	if err := stack.Initialize.Add(counter, middleware.Before); err != nil {
		return err
	}
	logger := middleware.FinalizeMiddlewareFunc("HaddockRequestLog", logAttempt)
	// After the retry middleware, so each attempt is logged.
	if err := stack.Finalize.Insert(logger, "Retry", middleware.After); err != nil {
		return stack.Finalize.Add(logger, middleware.After)
	}
	return nil
}

func logAttempt(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	attempt := int32(1)
	if c, ok := middleware.GetStackValue(ctx, attemptCounterKey{}).(*atomic.Int32); ok {
		attempt = c.Add(1)
	}
	start := time.Now()
	out, md, err := next.HandleFinalize(ctx, in)

	fields := map[string]any{
		"service":     awsmiddleware.GetServiceID(ctx),
		"operation":   awsmiddleware.GetOperationName(ctx),
		"region":      awsmiddleware.GetRegion(ctx),
		"attempt":     attempt,
		"duration_ms": time.Since(start).Milliseconds(),
	}
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil {
		fields["http_status"] = raw.StatusCode
	} else if re := (*awshttp.ResponseError)(nil); errors.As(err, &re) {
		fields["http_status"] = re.HTTPStatusCode()
	}
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok && id != "" {
		fields["request_id"] = id
	}
	lctx := logContext(ctx)
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			fields["error_code"] = ae.ErrorCode()
		} else {
			fields["error"] = err.Error()
		}
		tflog.SubsystemDebug(lctx, subsystem, "AWS API request failed", fields)
		return out, md, err
	}
	tflog.SubsystemDebug(lctx, subsystem, "AWS API request", fields)
	return out, md, err
}
