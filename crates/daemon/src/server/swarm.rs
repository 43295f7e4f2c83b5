//! Swarm's endpoints on a node that is in no swarm, as Docker answers them there: every
//! manager-only resource (`/swarm`, `/nodes`, `/services`, `/tasks`, `/secrets`, `/configs`)
//! is 503 "not a swarm manager", and leaving is 503 "not part of a swarm". Clients rely on
//! these answers: the Python SDK's `leave_swarm(force=True)` treats the 503 as success.

use berth_api::{ApiError, ErrorKind};
use hyper::Method;

use super::{Ctx, HResult};

/// Docker's text for a node that is not a manager of any swarm.
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

/// Docker's text for leaving while in no swarm.
pub const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";

pub async fn route<B: Send + Sync>(ctx: Ctx<B>, segs: &[&str]) -> HResult {
    Err(answer(&ctx.method, segs))
}

/// The answer for one swarm request: there is no swarm to serve it.
fn answer(method: &Method, segs: &[&str]) -> ApiError {
    let unavailable = |m: &str| ApiError::new(ErrorKind::Unavailable, m);
    match (segs, method) {
        (["swarm", "leave"], &Method::POST) => unavailable(NOT_IN_A_SWARM),
        (["swarm", "init" | "join"], &Method::POST) => unavailable(
            "berth cannot create or join a swarm yet: swarm mode is not implemented on this engine",
        ),
        _ => unavailable(NOT_A_MANAGER),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_swarm_resource_is_unavailable_off_swarm() {
        for (method, path, want) in [
            (Method::GET, "swarm", NOT_A_MANAGER),
            (Method::POST, "swarm/leave", NOT_IN_A_SWARM),
            (Method::GET, "swarm/unlockkey", NOT_A_MANAGER),
            (Method::POST, "swarm/update", NOT_A_MANAGER),
            (Method::GET, "nodes", NOT_A_MANAGER),
            (Method::GET, "services", NOT_A_MANAGER),
            (Method::POST, "services/create", NOT_A_MANAGER),
            (Method::GET, "tasks", NOT_A_MANAGER),
            (Method::GET, "secrets", NOT_A_MANAGER),
            (Method::DELETE, "configs/x", NOT_A_MANAGER),
        ] {
            let segs: Vec<&str> = path.split('/').collect();
            let e = answer(&method, &segs);
            assert_eq!((e.status(), e.message.as_str()), (503, want), "{method} {path}");
        }
        assert_eq!(answer(&Method::POST, &["swarm", "init"]).status(), 503);
    }
}
