// The `tags` table: EC2 tags for every resource type, keyed by resource id (ids are globally unique).
/** One tag of one resource, owned by the resource's account. */
export interface TagsTable {
  account_id: string;
  resource_id: string;
  /** volume | snapshot | image | instance … (from the id prefix). */
  resource_type: string;
  key: string;
  value: string;
}
