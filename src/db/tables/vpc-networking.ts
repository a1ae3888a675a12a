// The networking tables (migration 0006): VPCs, subnets, internet gateways, route tables, security groups and
// their rules, network interfaces and the groups each interface is in.
import type { ColumnType } from 'kysely';

/** Which VPC is an account's default: a row once it was made; vpc_id null after DeleteVpc removed it. */
export interface DefaultVpcsTable {
  account_id: string;
  vpc_id: string | null;
}

/** One VPC. */
export interface VpcsTable {
  /** `vpc-` + 17 hex digits. */
  id: string;
  account_id: string;
  /** Primary IPv4 CIDR block, `172.31.0.0/16` for a default VPC. */
  cidr_block: string;
  /** 0/1. */
  is_default: number;
  /** default | dedicated (recorded; all instances share the host). */
  instance_tenancy: string;
  created_at: ColumnType<string, string, never>;
}

/** One subnet of a VPC, in one availability zone. */
export interface SubnetsTable {
  id: string;
  account_id: string;
  vpc_id: string;
  cidr_block: string;
  availability_zone: string;
  /** 0/1: the default subnet of its zone (default VPC only). */
  default_for_az: number;
  /** 0/1: instances launched here get a public address unless they say otherwise. */
  map_public_ip_on_launch: number;
  created_at: ColumnType<string, string, never>;
}

/** One internet gateway; vpc_id is its attachment (null when detached). */
export interface InternetGatewaysTable {
  id: string;
  account_id: string;
  vpc_id: string | null;
  created_at: ColumnType<string, string, never>;
}

/** One route table: the local route always, plus 0.0.0.0/0 to gateway_id when set. */
export interface RouteTablesTable {
  id: string;
  account_id: string;
  vpc_id: string;
  /** 0/1: the VPC's main route table (every subnet without its own association uses it). */
  is_main: number;
  /** igw-… the default route points to, or null. */
  gateway_id: string | null;
  created_at: ColumnType<string, string, never>;
}

/** One security group of a VPC. */
export interface SecurityGroupsTable {
  id: string;
  account_id: string;
  vpc_id: string;
  /** Unique in its VPC; `default` is the VPC's default group. */
  name: string;
  description: string;
  created_at: ColumnType<string, string, never>;
}

/** One rule of a security group: a protocol and port range, and one source (a CIDR or a group). */
export interface SecurityGroupRulesTable {
  /** `sgr-` + 17 hex digits. */
  id: string;
  account_id: string;
  group_id: string;
  /** 0 ingress, 1 egress. */
  is_egress: number;
  /** `tcp`, `udp`, `icmp`, `-1` (all) or another protocol number, as EC2 reports it. */
  ip_protocol: string;
  /** -1 when the protocol has no ports (all, or ICMP's any type). */
  from_port: number;
  to_port: number;
  cidr_ipv4: string | null;
  referenced_group_id: string | null;
  description: string;
  created_at: ColumnType<string, string, never>;
}

/** One elastic network interface (each instance has its primary one, device index 0). */
export interface NetworkInterfacesTable {
  /** `eni-` + 17 hex digits. */
  id: string;
  account_id: string;
  vpc_id: string;
  subnet_id: string;
  availability_zone: string;
  /** The instance it is attached to (deleted with it at termination), or null. */
  instance_id: string | null;
  device_index: number;
  /** `eni-attach-` + 17 hex digits. */
  attachment_id: string;
  /** Primary private IPv4 address, unique in the VPC. */
  private_ip: string;
  /** `02:xx:xx:xx:xx:xx`. */
  mac: string;
  /** 0/1: the launch asked for a public address (helper code assigning public IPs reads it). */
  associate_public_ip: number;
  description: string;
  created_at: ColumnType<string, string, never>;
}

/** Membership of a network interface in a security group, in the order given. */
export interface NetworkInterfaceGroupsTable {
  interface_id: string;
  group_id: string;
  position: number;
}
