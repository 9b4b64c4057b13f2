/**
 * Normalizes a ROS message type name to the `pkg/Type` form that `@foxglove/rosmsg` and
 * `@foxglove/rosmsg-msgs-common` use. Accepts `pkg/msg/Type` (ROS 2), `pkg/Type` (ROS 1) and
 * `pkg::msg::Type` (IDL), and leaves a bare `Type` unchanged.
 */
export function normalizeTypeName(type: string): string {
  const parts = type.trim().replaceAll('::', '/').split('/').filter((part) => part !== '');
  if (parts.length === 3 && parts[1] === 'msg') {
    return `${parts[0]}/${parts[2]}`;
  }
  return parts.join('/');
}

/** Returns the package of a normalized type name (`std_msgs` for `std_msgs/Header`), or null for a bare name. */
export function packageOf(type: string): string | null {
  const slash = type.indexOf('/');
  return slash > 0 ? type.slice(0, slash) : null;
}
