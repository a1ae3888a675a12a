// The ONE catalogue of Strata's errors (EC2 Query and EBS direct) and the error class every layer throws.
// A leaf: it imports nothing, so the domain (cloud/) raises errors without depending on the API layer,
// which renders them (api/render-error.ts, the one place errors become responses).
//
// Usage, anywhere under cloud/ or api/:
//   throw new CloudError('InvalidVolume.NotFound', { id: volumeId });
//   throw new CloudError('InvalidParameterValue', { name: 'Size', value: '0', expected: 'an integer from 1 to 16384' });
//   throw ec2Error('InvalidParameterValue', "The filter 'foo' is invalid");  // EC2's exact wording wins
// The message is the catalogue template with `{key}` filled from the data, or `data.message` when given. To
// add an error, add an entry to `catalogue` (code exactly as EC2/EBS spell it, HTTP status, template).
// Anything thrown that is not a CloudError is answered as `InternalError` 500 (logged with its stack).
/** One entry: HTTP status and message template with `{key}` placeholders. */
interface ErrorEntry {
  readonly status: number;
  readonly template: string;
}

const invalidValue = 'Value ({value}) for parameter {name} is invalid. Expected: {expected}.';

/** Every error code Strata answers with; EC2 codes follow the EC2 API reference, EBS ones the EBS reference. */
export const catalogue = {
  // Protocol and authentication (EC2 "common client errors").
  MissingParameter: { status: 400, template: 'The request must contain the parameter {name}' },
  InvalidParameterValue: { status: 400, template: invalidValue },
  InvalidParameter: { status: 400, template: '{message}' },
  InvalidParameterCombination: { status: 400, template: '{message}' },
  UnknownParameter: { status: 400, template: 'The parameter {name} is not recognized' },
  InvalidAction: {
    status: 400,
    template:
      'The action {action} is not valid for this web service: Strata does not implement it ' +
      '(docs/api-coverage.md lists the actions it does).',
  },
  InvalidQueryParameter: { status: 400, template: '{message}' },
  MalformedQueryString: { status: 400, template: '{message}' },
  InvalidRequest: { status: 400, template: '{message}' },
  InvalidNextToken: { status: 400, template: 'The token {token} is invalid or expired.' },
  RequestEntityTooLarge: { status: 413, template: 'Request body exceeds the limit of {limit} bytes.' },
  AuthFailure: {
    status: 401,
    template: 'AWS was not able to validate the provided access credentials: {reason}',
  },
  MissingAuthenticationToken: { status: 401, template: 'Request is missing Authentication Token' },
  IncompleteSignature: { status: 400, template: '{message}' },
  SignatureDoesNotMatch: {
    status: 403,
    template:
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
  },
  RequestExpired: { status: 400, template: 'Request has expired: {reason}' },
  UnauthorizedOperation: { status: 403, template: 'You are not authorized to perform this operation.' },
  DryRunOperation: { status: 412, template: 'Request would have succeeded, but DryRun flag is set.' },
  UnsupportedOperation: { status: 400, template: '{message}' },
  UnknownPath: {
    status: 404,
    template:
      'There is no API at {path}: EC2 Query requests go to / and EBS direct requests to /snapshots/….',
  },
  InternalError: { status: 500, template: 'An internal error has occurred.' },
  ServiceUnavailable: { status: 503, template: 'The service is unavailable: {reason}' },
  RequestLimitExceeded: { status: 503, template: 'Request limit exceeded.' },
  IdempotentParameterMismatch: { status: 400, template: '{message}' },
  // EC2 resources.
  'InvalidZone.NotFound': { status: 400, template: "The zone '{zone}' does not exist." },
  'InvalidVolume.NotFound': { status: 400, template: "The volume '{id}' does not exist." },
  'InvalidVolumeID.Malformed': { status: 400, template: 'Invalid id: "{id}"' },
  'InvalidVolume.ZoneMismatch': { status: 400, template: '{message}' },
  'InvalidSnapshot.NotFound': { status: 400, template: "The snapshot '{id}' does not exist." },
  'InvalidSnapshotID.Malformed': { status: 400, template: 'Invalid id: "{id}"' },
  'InvalidSnapshot.InUse': { status: 400, template: 'The snapshot {id} is currently in use by {user}' },
  'InvalidInstanceID.NotFound': { status: 400, template: "The instance ID '{id}' does not exist" },
  'InvalidInstanceID.Malformed': { status: 400, template: 'Invalid id: "{id}"' },
  'InvalidAMIID.NotFound': { status: 400, template: "The image id '[{id}]' does not exist" },
  'InvalidAMIID.Malformed': { status: 400, template: 'Invalid id: "{id}"' },
  InvalidID: { status: 400, template: "The ID '{id}' is not valid" },
  'InvalidAttachment.NotFound': { status: 400, template: '{message}' },
  'InvalidTagKey.Malformed': { status: 400, template: '{message}' },
  TagLimitExceeded: { status: 400, template: '{message}' },
  UnknownVolumeType: { status: 400, template: '{message}' },
  IncorrectModificationState: { status: 400, template: '{message}' },
  'InvalidVolumeModification.NotFound': { status: 400, template: '{message}' },
  'InvalidTag.NotFound': { status: 400, template: '{message}' },
  'InvalidResourceType.Unknown': { status: 400, template: '{message}' },
  VolumeInUse: { status: 400, template: '{id} is already attached to an instance' },
  IncorrectState: { status: 400, template: '{message}' },
  IncorrectInstanceState: { status: 400, template: '{message}' },
  VolumeLimitExceeded: { status: 400, template: '{message}' },
  SnapshotLimitExceeded: { status: 400, template: '{message}' },
  InsufficientInstanceCapacity: { status: 500, template: '{message}' },
  // A full disk (block store or database): EC2's code for "no capacity for this EBS request, try later";
  // 503 rather than EC2's 500, as the daemon is up and the request may succeed once space is freed.
  InsufficientVolumeCapacity: {
    status: 503,
    template:
      'There is not enough capacity to fulfill your EBS volume provision request. Free space (delete volumes or snapshots) or wait and try again later.',
  },
  InvalidBlockDeviceMapping: { status: 400, template: '{message}' },
  InvalidParameterDependency: { status: 400, template: '{message}' },
  // Images and instances (cloud/images/images.ts, cloud/instances/instances.ts).
  OperationNotPermitted: { status: 400, template: '{message}' },
  InstanceLimitExceeded: { status: 400, template: '{message}' },
  InvalidInstanceType: { status: 400, template: '{message}' },
  'InvalidAMIName.Malformed': { status: 400, template: '{message}' },
  'InvalidAMIName.Duplicate': { status: 400, template: 'AMI name {name} is already in use by AMI {id}' },
  InvalidAMIAttributeItemValue: { status: 400, template: '{message}' },
  'InvalidUserID.Malformed': { status: 400, template: "Invalid user id: '{id}'" },
  InvalidInstanceAttributeValue: { status: 400, template: '{message}' },
  // Key pairs and addresses (cloud/key-pairs/, cloud/addresses/).
  'InvalidKeyPair.NotFound': { status: 400, template: "The key pair '{id}' does not exist" },
  'InvalidKeyPair.Duplicate': { status: 400, template: "The keypair '{name}' already exists." },
  'InvalidKeyPair.Format': { status: 400, template: '{message}' },
  'InvalidKey.Format': { status: 400, template: '{message}' },
  ResourceLimitExceeded: { status: 400, template: '{message}' },
  AddressLimitExceeded: { status: 400, template: '{message}' },
  'InvalidAllocationID.NotFound': { status: 400, template: "The allocation ID '{id}' does not exist" },
  'InvalidAssociationID.NotFound': { status: 400, template: "The association ID '{id}' does not exist" },
  'InvalidAddress.NotFound': { status: 400, template: "Address '{ip}' not found." },
  // VPCs, subnets, gateways, network interfaces and security groups (cloud/vpc/, cloud/security-groups/).
  'InvalidVpcID.NotFound': { status: 400, template: "The vpc ID '{id}' does not exist" },
  'InvalidVpcID.Malformed': { status: 400, template: 'Invalid id: "{id}"' },
  'InvalidVpc.Range': { status: 400, template: "The CIDR '{cidr}' is invalid." },
  'InvalidSubnetID.NotFound': { status: 400, template: "The subnet ID '{id}' does not exist" },
  'InvalidSubnetID.Malformed': { status: 400, template: 'Invalid id: "{id}"' },
  'InvalidSubnet.Range': { status: 400, template: "The CIDR '{cidr}' is invalid." },
  'InvalidSubnet.Conflict': { status: 400, template: "The CIDR '{cidr}' conflicts with another subnet" },
  'InvalidRouteTableID.NotFound': { status: 400, template: "The routeTable ID '{id}' does not exist" },
  'InvalidRouteTableID.Malformed': { status: 400, template: 'Invalid id: "{id}"' },
  'InvalidInternetGatewayID.NotFound': {
    status: 400,
    template: "The internetGateway ID '{id}' does not exist",
  },
  'InvalidInternetGatewayID.Malformed': { status: 400, template: 'Invalid id: "{id}"' },
  'InvalidNetworkInterfaceID.NotFound': {
    status: 400,
    template: "The networkInterface ID '{id}' does not exist",
  },
  'InvalidNetworkInterfaceID.Malformed': { status: 400, template: 'Invalid id: "{id}"' },
  'InvalidGroup.NotFound': { status: 400, template: "The security group '{id}' does not exist" },
  'InvalidGroupId.Malformed': { status: 400, template: 'Invalid id: "{id}" (expecting "sg-...")' },
  'InvalidGroup.Duplicate': {
    status: 400,
    template: "The security group '{name}' already exists for VPC '{vpcId}'",
  },
  'InvalidGroup.Reserved': { status: 400, template: "The security group '{name}' is reserved" },
  'InvalidSecurityGroupRuleId.NotFound': {
    status: 400,
    template: "The security group rule ID '{id}' does not exist",
  },
  'InvalidSecurityGroupRuleId.Malformed': { status: 400, template: 'Invalid id: "{id}"' },
  'InvalidPermission.Duplicate': { status: 400, template: '{message}' },
  'InvalidPermission.Malformed': { status: 400, template: '{message}' },
  'InvalidPermission.NotFound': {
    status: 400,
    template: 'The specified rule does not exist in this security group.',
  },
  RulesPerSecurityGroupLimitExceeded: {
    status: 400,
    template: 'The maximum number of rules per security group has been reached.',
  },
  SecurityGroupLimitExceeded: {
    status: 400,
    template: 'The maximum number of security groups has been reached.',
  },
  VpcLimitExceeded: { status: 400, template: 'The maximum number of VPCs has been reached.' },
  SubnetLimitExceeded: { status: 400, template: 'The maximum number of subnets has been reached.' },
  CannotDelete: { status: 400, template: '{message}' },
  DependencyViolation: { status: 400, template: '{message}' },
  DefaultVpcAlreadyExists: {
    status: 400,
    template: 'A Default VPC already exists for this account in this region.',
  },
  'InvalidIPAddress.InUse': { status: 400, template: 'Address {ip} is in use.' },
  'Resource.AlreadyAssociated': { status: 400, template: '{message}' },
  VPCIdNotSpecified: { status: 400, template: 'No default VPC for this user' },
  InsufficientFreeAddressesInSubnet: { status: 400, template: '{message}' },
  SecurityGroupsPerInterfaceLimitExceeded: { status: 400, template: '{message}' },
  MissingInput: { status: 400, template: '{message}' },
  'Gateway.NotAttached': {
    status: 400,
    template: 'resource {gatewayId} is not attached to network {vpcId}',
  },
  // EBS direct (REST/JSON); https://docs.aws.amazon.com/ebs/latest/APIReference/CommonErrors.html
  ValidationException: { status: 400, template: '{message}' },
  ResourceNotFoundException: { status: 404, template: '{message}' },
  AccessDeniedException: { status: 403, template: '{message}' },
  ConflictException: { status: 409, template: '{message}' },
  RequestThrottledException: { status: 400, template: '{message}' },
  ServiceQuotaExceededException: { status: 402, template: '{message}' },
  ConcurrentLimitExceededException: { status: 400, template: '{message}' },
  InternalServerException: { status: 500, template: '{message}' },
} as const satisfies Record<string, ErrorEntry>;

/** A code from the catalogue. */
export type ErrorCode = keyof typeof catalogue;

/** Values filled into a message template. */
export type ErrorData = Readonly<Record<string, string | number | boolean>>;

/** The one error class: an operating error with a catalogue code and the data for its message. */
export class CloudError extends Error {
  override readonly name = 'CloudError';
  /** HTTP status from the catalogue. */
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly data: ErrorData = {},
  ) {
    super(typeof data.message === 'string' ? data.message : fillTemplate(catalogue[code].template, data));
    this.status = catalogue[code].status;
  }
}

function fillTemplate(template: string, data: ErrorData): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in data ? String(data[key]) : whole));
}

/** A CloudError with catalogue `code` whose message is exactly `message` (EC2's own wording for this case). */
export function ec2Error(code: ErrorCode, message: string): CloudError {
  return new CloudError(code, { message });
}

const pluralNotFound = {
  'InvalidAMIID.NotFound': (list: string) => `The image ids '[${list}]' do not exist`,
  'InvalidInstanceID.NotFound': (list: string) => `The instance IDs '${list}' do not exist`,
} as const;

/** The not-found error for `ids`: the catalogue's singular for one, EC2's plural wording for several. */
export function notFoundError(code: keyof typeof pluralNotFound, ids: readonly string[]): CloudError {
  if (ids.length === 1) return new CloudError(code, { id: ids[0] as string });
  return ec2Error(code, pluralNotFound[code](ids.join(', ')));
}
