//! A set of 128-bit ids (document digests, trace ids) that an import keeps for every day it
//! touches, so its memory is what grows with the input.
//!
//! Written by hand: the set is sorted runs of plain numbers, merged like a binary counter,
//! which takes 16 bytes a member. A hash set (`std`'s, or any crate's) takes 19 to 38 bytes
//! a member with its load factor, and about twice that while it grows: at 2,000,000
//! documents, 71 MB where this takes 32 MB.

/// Members in sorted runs, each run at least twice as long as the next, so there are at
/// most about log2(members) runs to search.
#[derive(Debug, Default)]
pub struct IdSet {
    runs: Vec<Vec<u128>>,
    len: usize,
}

impl IdSet {
    /// Members.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: u128) -> bool {
        self.runs.iter().any(|run| run.binary_search(&id).is_ok())
    }

    /// Adds `ids`, and says for each whether it was new: not a member before, and not
    /// earlier in `ids`.
    pub fn insert_all(&mut self, ids: &[u128]) -> Vec<bool> {
        let mut new = vec![false; ids.len()];
        let mut order: Vec<u32> = (0..ids.len() as u32).collect();
        // By value, then position: the first of equal ids is the one counted new.
        order.sort_unstable_by_key(|&i| (ids[i as usize], i));
        let mut run: Vec<u128> = Vec::new();
        for i in order {
            let id = ids[i as usize];
            if run.last() == Some(&id) || self.contains(id) {
                continue;
            }
            new[i as usize] = true;
            run.push(id);
        }
        self.add_run(run);
        new
    }

    fn add_run(&mut self, run: Vec<u128>) {
        if run.is_empty() {
            return;
        }
        self.len += run.len();
        self.runs.push(run);
        while let [.., a, b] = self.runs.as_slice() {
            if a.len() > 2 * b.len() {
                break;
            }
            let b = self.runs.pop().expect("two runs");
            merge_into(self.runs.last_mut().expect("two runs"), &b);
        }
    }
}

/// Merges sorted `b` into sorted `a`, from the back, so no scratch space is needed beyond
/// `a`'s growth.
fn merge_into(a: &mut Vec<u128>, b: &[u128]) {
    let (mut i, mut j) = (a.len(), b.len());
    a.resize(i + j, 0);
    for k in (0..a.len()).rev() {
        if j == 0 {
            break;
        }
        if i > 0 && a[i - 1] > b[j - 1] {
            a[k] = a[i - 1];
            i -= 1;
        } else {
            a[k] = b[j - 1];
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_told_apart_from_members_and_repeats() {
        let mut set = IdSet::default();
        assert_eq!(set.insert_all(&[5, 3, 5, 9]), [true, true, false, true]);
        assert_eq!(
            set.insert_all(&[9, 1, 1, 3, 7]),
            [false, true, false, false, true]
        );
        assert_eq!(set.len(), 5);
        for id in [1, 3, 5, 7, 9] {
            assert!(set.contains(id), "{id}");
        }
        assert!(!set.contains(2));
    }

    #[test]
    fn many_batches_stay_in_few_runs_and_lose_nothing() {
        let mut set = IdSet::default();
        let mut n = 0u128;
        for batch in 0..300u128 {
            // Every batch repeats the previous one's last id and adds batch + 1 more.
            let ids: Vec<u128> = (n.saturating_sub(1)..n + batch + 1)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .collect();
            let new = set.insert_all(&ids);
            assert_eq!(new.iter().filter(|b| **b).count() as u128, batch + 1);
            n += batch + 1;
        }
        assert_eq!(set.len() as u128, n);
        assert!(set.runs.len() <= 2 * (usize::BITS - set.len().leading_zeros()) as usize);
        assert!((0..n).all(|i| set.contains(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))));
        for run in &set.runs {
            assert!(run.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
