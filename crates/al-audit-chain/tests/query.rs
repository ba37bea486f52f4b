//! Query filters, cursors, replay lookup and outcomes.

use al_audit_chain::{AuditLog, Error, Kind, LogConfig, OutcomeReport, Query};
use al_types::{EntryId, ErrorCode, Timestamp};

#[test]
fn query_filters_newest_first_with_stable_cursors() {
    let mut log = crate::log_of(100);
    let q = Query {
        agent_id: Some("agt_1".into()),
        kind: Some(Kind::Action),
        limit: Some(7),
        ..Query::default()
    };
    let naive: Vec<u64> = (1..=100u64)
        .rev()
        .filter(|&r| {
            let e = log.entry(r).unwrap();
            e.agent_id.as_deref() == Some("agt_1") && e.kind == Kind::Action
        })
        .collect();
    let mut got = Vec::new();
    let mut page = log.query(&q).unwrap();
    let mut appended = 100;
    loop {
        got.extend(page.entries.iter().map(|e| e.row()));
        let Some(c) = page.next_cursor.clone() else {
            break;
        };
        // New entries arrive between pages: the cursor stays correct.
        let _ = log.append(&crate::entry(appended)).unwrap();
        appended += 1;
        page = log
            .query(&Query {
                cursor: Some(c),
                ..q.clone()
            })
            .unwrap();
    }
    assert_eq!(got, naive);
}

#[test]
fn every_filter_agrees_with_a_scan() {
    let log = crate::log_of(80);
    let t0 = 1_764_331_200_000i64;
    let at = |ms: i64| Timestamp::from_unix_millis(ms).unwrap();
    let queries = [
        Query {
            action_type: Some("db.migrate".into()),
            ..Query::default()
        },
        Query {
            status: Some("denied".into()),
            ..Query::default()
        },
        Query {
            kind: Some(Kind::Breaker),
            ..Query::default()
        },
        Query {
            since: Some(at(t0 + 30_000)),
            until: Some(at(t0 + 60_000)),
            ..Query::default()
        },
        Query {
            agent_id: Some("agt_2".into()),
            status: Some("requested".into()),
            ..Query::default()
        },
        Query {
            agent_id: Some("nobody".into()),
            ..Query::default()
        },
    ];
    for q in queries {
        let page = log
            .query(&Query {
                limit: Some(200),
                ..q.clone()
            })
            .unwrap();
        let want: Vec<u64> = (1..=80u64)
            .rev()
            .filter(|&r| {
                let e = log.entry(r).unwrap();
                q.agent_id
                    .as_ref()
                    .is_none_or(|a| e.agent_id.as_ref() == Some(a))
                    && q.kind.is_none_or(|k| e.kind == k)
                    && q.action_type
                        .as_deref()
                        .is_none_or(|a| e.str_field("action_type") == Some(a))
                    && q.status
                        .as_deref()
                        .is_none_or(|s| e.str_field("status") == Some(s))
                    && q.since.is_none_or(|s| e.timestamp >= s)
                    && q.until.is_none_or(|u| e.timestamp < u)
            })
            .collect();
        assert_eq!(
            page.entries.iter().map(|e| e.row()).collect::<Vec<_>>(),
            want,
            "{q:?}"
        );
        assert!(page.next_cursor.is_none());
    }
    assert_eq!(log.query(&Query::default()).unwrap().entries.len(), 50);
    assert_eq!(
        log.query(&Query {
            limit: Some(1000),
            ..Query::default()
        })
        .unwrap()
        .entries
        .len(),
        80
    );
}

#[test]
fn bad_cursors_and_limits_are_typed_errors() {
    let log = crate::log_of(10);
    let other = {
        let mut l = AuditLog::new("globex");
        for i in 0..10 {
            let _ = l.append(&crate::entry(i)).unwrap();
        }
        l
    };
    let foreign = other
        .query(&Query {
            limit: Some(2),
            ..Query::default()
        })
        .unwrap()
        .next_cursor
        .unwrap();
    for c in [
        "",
        "garbage",
        "c1_5_000000000000",
        &foreign,
        "c1_ffffffff_00",
    ] {
        let e = log
            .query(&Query {
                cursor: Some(c.into()),
                ..Query::default()
            })
            .unwrap_err();
        assert!(matches!(e, Error::InvalidCursor { .. }), "{c}");
        assert_eq!(e.code(), "INVALID_CURSOR");
    }
    assert_eq!(
        log.query(&Query {
            limit: Some(0),
            ..Query::default()
        })
        .unwrap_err(),
        Error::InvalidLimit { max: 200 }
    );
    let bare = AuditLog::with_config("acme", LogConfig { index: false });
    assert_eq!(bare.query(&Query::default()).unwrap_err(), Error::NoIndex);
    assert_eq!(Error::NoIndex.code(), "NOT_SUPPORTED");
}

#[test]
fn replay_lookup_by_agent_and_event_id() {
    let log = crate::log_of(20);
    let id = log.find_event("agt_1", "ev-1").unwrap();
    assert_eq!(id.row(), 2);
    assert_eq!(
        log.find_event("agt_2", "ev-1"),
        None,
        "ids are scoped per agent"
    );
    assert_eq!(log.entry_by_id(id).unwrap().row(), 2);
}

#[test]
fn outcomes_are_last_write_wins_and_never_lost() {
    let mut log = crate::log_of(6);
    let id = EntryId::parse("evt_0000000000000002").unwrap(); // action by agt_1
    let t = |ms: i64| Timestamp::from_unix_millis(ms).unwrap();
    let report = |s: &str| OutcomeReport {
        status: s.into(),
        message: Some(format!("it was {s}")),
        metadata: None,
    };
    let _ = log
        .report_outcome("agt_1", id, &report("failure"), t(1))
        .unwrap();
    let _ = log
        .report_outcome("agt_1", id, &report("success"), t(2))
        .unwrap();
    assert_eq!(
        log.current_outcome(id).unwrap().str_field("status"),
        Some("success")
    );
    let history = log
        .query(&Query {
            kind: Some(Kind::Outcome),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(history.entries.len(), 2, "both reports are chained");
    assert_eq!(
        log.report_outcome("agt_0", id, &report("success"), t(3))
            .unwrap_err()
            .code(),
        "FORBIDDEN"
    );
    assert_eq!(
        log.report_outcome(
            "agt_1",
            EntryId::parse("evt_00000000000000ff").unwrap(),
            &report("success"),
            t(3)
        )
        .unwrap_err()
        .code(),
        "NOT_FOUND"
    );
    assert_eq!(
        log.report_outcome(
            "agt_1",
            EntryId::parse("evt_0000000000000004").unwrap(),
            &report("success"),
            t(3)
        )
        .unwrap_err()
        .code(),
        "NOT_FOUND",
        "row 4 is not an action"
    );
    assert_eq!(
        log.report_outcome("agt_1", id, &report("meh"), t(3))
            .unwrap_err()
            .code(),
        "INVALID_REQUEST"
    );
    assert!(log.verify(None, crate::T0).result.chain_valid);
}

/// `LogConfig::default()` is what `AuditLog::new` uses: indexes on, so a
/// log imported with the default config answers queries.
#[test]
fn default_config_and_new_agree() {
    assert!(LogConfig::default().index);
    let log = crate::log_of(5);
    let mut out = Vec::new();
    log.export_jsonl(&mut out).unwrap();
    let imported =
        AuditLog::import_jsonl("acme", LogConfig::default(), &mut out.as_slice()).unwrap();
    let q = Query {
        agent_id: Some("agt_1".into()),
        ..Query::default()
    };
    assert_eq!(imported.query(&q).unwrap(), log.query(&q).unwrap());
    assert!(!imported.query(&q).unwrap().entries.is_empty());
}
