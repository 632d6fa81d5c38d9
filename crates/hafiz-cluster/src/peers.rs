//! The cluster's peers as the operator gives them: `--peer ID=HOST:PORT`, every node
//! with its RPC address, itself included.

use std::collections::BTreeMap;

use crate::error::ClusterError;
use crate::types::NodeId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub id: NodeId,
    /// `HOST:PORT` of the node's RPC listener (HOST may be a DNS name).
    pub addr: String,
}

impl std::str::FromStr for Peer {
    type Err = ClusterError;

    fn from_str(s: &str) -> Result<Peer, ClusterError> {
        let bad = || ClusterError::BadPeer(s.to_string());
        let (id, addr) = s.split_once('=').ok_or_else(bad)?;
        let id: NodeId = id.trim().parse().map_err(|_| bad())?;
        let addr = addr.trim();
        let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
        if id == 0 || host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        Ok(Peer {
            id,
            addr: addr.to_string(),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerList {
    pub peers: BTreeMap<NodeId, String>,
}

impl PeerList {
    pub fn new(peers: Vec<Peer>) -> Result<PeerList, ClusterError> {
        let mut map = BTreeMap::new();
        for p in peers {
            if map.insert(p.id, p.addr).is_some() {
                return Err(ClusterError::DuplicatePeer(p.id));
            }
        }
        Ok(PeerList { peers: map })
    }

    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    pub fn addr(&self, id: NodeId) -> Option<&str> {
        self.peers.get(&id).map(String::as_str)
    }

    /// The node that initializes Raft: the lowest id.
    pub fn initializer(&self) -> Option<NodeId> {
        self.peers.keys().next().copied()
    }

    /// Where `other` contradicts this list: a node both name at different
    /// addresses. (A list with more or fewer nodes is not a contradiction: nodes are
    /// added and removed online.)
    pub fn conflict(&self, other: &PeerList) -> Option<String> {
        self.peers.iter().find_map(|(id, addr)| {
            let theirs = other.peers.get(id)?;
            (theirs != addr).then(|| format!("node {id} is {addr} here but {theirs} there"))
        })
    }

    pub fn as_pairs(&self) -> Vec<(NodeId, String)> {
        self.peers.iter().map(|(i, a)| (*i, a.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_check() {
        let p: Peer = "2=hafiz-1.hafiz.default.svc:9003".parse().unwrap();
        assert_eq!(p.id, 2);
        assert_eq!(p.addr, "hafiz-1.hafiz.default.svc:9003");
        for bad in ["", "2", "0=h:1", "x=h:1", "2=h", "2=:9", "2=h:99999"] {
            assert!(bad.parse::<Peer>().is_err(), "{bad}");
        }
        let list = PeerList::new(vec!["3=c:1".parse().unwrap(), "1=a:1".parse().unwrap()]).unwrap();
        assert_eq!(list.initializer(), Some(1));
        assert!(PeerList::new(vec!["1=a:1".parse().unwrap(), "1=b:1".parse().unwrap()]).is_err());
        let other =
            PeerList::new(vec!["1=a:1".parse().unwrap(), "3=z:1".parse().unwrap()]).unwrap();
        assert!(list.conflict(&other).unwrap().contains("node 3"));
        let grown = PeerList::new(vec![
            "1=a:1".parse().unwrap(),
            "3=c:1".parse().unwrap(),
            "4=d:1".parse().unwrap(),
        ])
        .unwrap();
        assert_eq!(list.conflict(&grown), None);
    }
}
