package aws

import (
	"errors"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/haddockhq/terraform-provider-haddock/internal/cloud"
)

// EC2 error codes the driver reacts to.
const (
	errCodeInstanceNotFound       = "InvalidInstanceID.NotFound"
	errCodeAllocationNotFound     = "InvalidAllocationID.NotFound"
	errCodeAssociationNotFound    = "InvalidAssociationID.NotFound"
	errCodeAMINotFound            = "InvalidAMIID.NotFound"
	errCodeAMIMalformed           = "InvalidAMIID.Malformed"
	errCodeGroupNotFound          = "InvalidGroup.NotFound"
	errCodeGroupDuplicate         = "InvalidGroup.Duplicate"
	errCodePermissionDuplicate    = "InvalidPermission.Duplicate"
	errCodePermissionNotFound     = "InvalidPermission.NotFound"
	errCodeIncorrectInstanceState = "IncorrectInstanceState"
	errCodeAddressInUse           = "InvalidIPAddress.InUse"
)

// errorKinds maps EC2 error codes to the portable kinds.
var errorKinds = map[string]error{
	errCodeInstanceNotFound:    cloud.ErrNotFound,
	errCodeAllocationNotFound:  cloud.ErrNotFound,
	errCodeAssociationNotFound: cloud.ErrNotFound,
	errCodeAMINotFound:         cloud.ErrNotFound,
	errCodeGroupNotFound:       cloud.ErrNotFound,
	"InvalidAddress.NotFound":  cloud.ErrNotFound,
	errCodePermissionNotFound:  cloud.ErrNotFound,

	"UnauthorizedOperation": cloud.ErrUnauthorized,
	"AuthFailure":           cloud.ErrUnauthorized,
	"InvalidClientTokenId":  cloud.ErrUnauthorized,
	"SignatureDoesNotMatch": cloud.ErrUnauthorized,
	"OptInRequired":         cloud.ErrUnauthorized,
	"ExpiredToken":          cloud.ErrUnauthorized,

	"InsufficientInstanceCapacity":       cloud.ErrQuota,
	"InstanceLimitExceeded":              cloud.ErrQuota,
	"AddressLimitExceeded":               cloud.ErrQuota,
	"VcpuLimitExceeded":                  cloud.ErrQuota,
	"SecurityGroupLimitExceeded":         cloud.ErrQuota,
	"RulesPerSecurityGroupLimitExceeded": cloud.ErrQuota,
	"TagLimitExceeded":                   cloud.ErrQuota,

	"RequestLimitExceeded": cloud.ErrThrottled,
	"Throttling":           cloud.ErrThrottled,
	"ThrottlingException":  cloud.ErrThrottled,

	"InvalidParameterValue":          cloud.ErrInvalid,
	"InvalidParameter":               cloud.ErrInvalid,
	"InvalidParameterCombination":    cloud.ErrInvalid,
	"MissingParameter":               cloud.ErrInvalid,
	"Unsupported":                    cloud.ErrInvalid,
	"InvalidInstanceID.Malformed":    cloud.ErrInvalid,
	"InvalidAllocationID.Malformed":  cloud.ErrInvalid,
	"InvalidAssociationID.Malformed": cloud.ErrInvalid,
	errCodeAMIMalformed:              cloud.ErrInvalid,
	"InvalidAMIID.Unavailable":       cloud.ErrInvalid,
	"InvalidKeyPair.NotFound":        cloud.ErrInvalid,
	"InvalidInstanceType":            cloud.ErrInvalid,
	"InvalidUserData.Malformed":      cloud.ErrInvalid,
	"InvalidRegion":                  cloud.ErrInvalid,
	"InvalidGroupId.Malformed":       cloud.ErrInvalid,

	errCodeIncorrectInstanceState: cloud.ErrConflict,
	"IncorrectState":              cloud.ErrConflict,
	errCodeAddressInUse:           cloud.ErrConflict,
	"Resource.AlreadyAssociated":  cloud.ErrConflict,
	errCodeGroupDuplicate:         cloud.ErrConflict,
	errCodePermissionDuplicate:    cloud.ErrConflict,
	errCodeDependencyViolation:    cloud.ErrConflict,
}

// mapError turns an AWS API error into a *cloud.APIError carrying the AWS
// code, message and request id; other errors (network, context) come back
// as they are.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var ce *cloud.APIError
	if errors.As(err, &ce) {
		return err
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	e := &cloud.APIError{
		Cloud:   cloud.AWS,
		Kind:    errorKinds[ae.ErrorCode()],
		Code:    ae.ErrorCode(),
		Message: ae.ErrorMessage(),
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.StatusCode = re.HTTPStatusCode()
		e.RequestID = re.ServiceRequestID()
	}
	return e
}

// errorCode is the AWS error code of err, mapped or not, or "".
func errorCode(err error) string {
	var ce *cloud.APIError
	if errors.As(err, &ce) {
		return ce.Code
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func hasCode(err error, codes ...string) bool {
	if err == nil {
		return false
	}
	c := errorCode(err)
	for _, code := range codes {
		if c == code {
			return true
		}
	}
	return false
}

// invalidError is a configuration problem the driver finds itself.
func invalidError(code, msg string) error {
	return &cloud.APIError{Cloud: cloud.AWS, Kind: cloud.ErrInvalid, Code: code, Message: msg}
}

// ELBv2 error codes the driver reacts to.
const (
	errCodeLoadBalancerNotFound  = "LoadBalancerNotFound"
	errCodeTargetGroupNotFound   = "TargetGroupNotFound"
	errCodeListenerNotFound      = "ListenerNotFound"
	errCodeDuplicateLBName       = "DuplicateLoadBalancerName"
	errCodeDuplicateTGName       = "DuplicateTargetGroupName"
	errCodeResourceInUse         = "ResourceInUse"
	errCodeInvalidTarget         = "InvalidTarget"
	errCodeELBValidation         = "ValidationError"
	errCodeInvalidConfigRequest  = "InvalidConfigurationRequest"
	errCodeOperationNotPermitted = "OperationNotPermitted"
)

// elbv2ErrorKinds maps ELBv2 error codes to the portable kinds. They share
// errorKinds with EC2's (mapError reads one table); no code means
// different things in the two services.
var elbv2ErrorKinds = map[string]error{
	errCodeLoadBalancerNotFound: cloud.ErrNotFound,
	errCodeTargetGroupNotFound:  cloud.ErrNotFound,
	errCodeListenerNotFound:     cloud.ErrNotFound,

	errCodeDuplicateLBName:       cloud.ErrConflict,
	errCodeDuplicateTGName:       cloud.ErrConflict,
	"DuplicateListener":          cloud.ErrConflict,
	errCodeResourceInUse:         cloud.ErrConflict,
	errCodeOperationNotPermitted: cloud.ErrConflict,
	"PriorRequestNotComplete":    cloud.ErrConflict,

	"TooManyLoadBalancers":                     cloud.ErrQuota,
	"TooManyTargetGroups":                      cloud.ErrQuota,
	"TooManyListeners":                         cloud.ErrQuota,
	"TooManyTargets":                           cloud.ErrQuota,
	"TooManyTags":                              cloud.ErrQuota,
	"TooManyCertificates":                      cloud.ErrQuota,
	"TooManyActions":                           cloud.ErrQuota,
	"TooManyRules":                             cloud.ErrQuota,
	"TooManyRegistrationsForTargetId":          cloud.ErrQuota,
	"TooManyUniqueTargetGroupsPerLoadBalancer": cloud.ErrQuota,
	"TargetGroupAssociationLimit":              cloud.ErrQuota,

	"AccessDenied": cloud.ErrUnauthorized,

	errCodeELBValidation:           cloud.ErrInvalid,
	errCodeInvalidConfigRequest:    cloud.ErrInvalid,
	errCodeInvalidTarget:           cloud.ErrInvalid,
	"InvalidSubnet":                cloud.ErrInvalid,
	"SubnetNotFound":               cloud.ErrInvalid,
	"InvalidSecurityGroup":         cloud.ErrInvalid,
	"InvalidScheme":                cloud.ErrInvalid,
	"CertificateNotFound":          cloud.ErrInvalid,
	"UnsupportedProtocol":          cloud.ErrInvalid,
	"IncompatibleProtocols":        cloud.ErrInvalid,
	"InvalidLoadBalancerAction":    cloud.ErrInvalid,
	"SSLPolicyNotFound":            cloud.ErrInvalid,
	"AvailabilityZoneNotSupported": cloud.ErrInvalid,
	"DuplicateTagKeys":             cloud.ErrInvalid,
}

// RDS and Secrets Manager error codes the driver reacts to.
const (
	errCodeDBInstanceNotFound      = "DBInstanceNotFound"
	errCodeDBInstanceAlreadyExists = "DBInstanceAlreadyExists"
	errCodeInvalidDBInstanceState  = "InvalidDBInstanceState"
	errCodeDBSnapshotAlreadyExists = "DBSnapshotAlreadyExists"
	errCodeSecretNotFound          = "ResourceNotFoundException"
)

// rdsErrorKinds maps RDS and Secrets Manager error codes to the portable
// kinds, merged into errorKinds like ELBv2's.
var rdsErrorKinds = map[string]error{
	errCodeDBInstanceNotFound: cloud.ErrNotFound,
	"DBSnapshotNotFound":      cloud.ErrNotFound,
	errCodeSecretNotFound:     cloud.ErrNotFound,

	errCodeDBInstanceAlreadyExists: cloud.ErrConflict,
	errCodeInvalidDBInstanceState:  cloud.ErrConflict,
	errCodeDBSnapshotAlreadyExists: cloud.ErrConflict,
	"InvalidDBSnapshotState":       cloud.ErrConflict,
	"InvalidRequestException":      cloud.ErrConflict, // Secrets Manager: a secret being deleted

	"InstanceQuotaExceeded":          cloud.ErrQuota,
	"StorageQuotaExceeded":           cloud.ErrQuota,
	"SnapshotQuotaExceeded":          cloud.ErrQuota,
	"InsufficientDBInstanceCapacity": cloud.ErrQuota,

	"AccessDeniedException": cloud.ErrUnauthorized, // Secrets Manager
	"DecryptionFailure":     cloud.ErrUnauthorized, // Secrets Manager: no kms:Decrypt on the secret's key

	"InvalidParameterException":            cloud.ErrInvalid, // Secrets Manager
	"InvalidVPCNetworkStateFault":          cloud.ErrInvalid,
	"DBSubnetGroupNotFoundFault":           cloud.ErrInvalid,
	"DBSubnetGroupDoesNotCoverEnoughAZs":   cloud.ErrInvalid,
	"InvalidDBSubnetGroupFault":            cloud.ErrInvalid,
	"StorageTypeNotSupported":              cloud.ErrInvalid,
	"StorageTypeNotAvailableFault":         cloud.ErrInvalid,
	"KMSKeyNotAccessibleFault":             cloud.ErrInvalid,
	"DBParameterGroupNotFound":             cloud.ErrInvalid,
	"OptionGroupNotFoundFault":             cloud.ErrInvalid,
	"ProvisionedIopsNotAvailableInAZFault": cloud.ErrInvalid,
	"NetworkTypeNotSupported":              cloud.ErrInvalid,
	"UnsupportedDBEngineVersion":           cloud.ErrInvalid,
}

func init() {
	for _, kinds := range []map[string]error{elbv2ErrorKinds, rdsErrorKinds} {
		for code, kind := range kinds {
			if _, taken := errorKinds[code]; !taken {
				errorKinds[code] = kind
			}
		}
	}
}
