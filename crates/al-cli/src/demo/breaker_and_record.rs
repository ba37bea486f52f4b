//! Sections 6–10: a runaway agent throttled then halted, the chain and
//! its signed checkpoint, tampering caught, an inclusion proof, posture.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Host {
    /// Section 6: A runaway agent: calibrated on a calm baseline, then looping.
    /// Throttled, it gets 429s (not decisions, not chained); probing with
    /// actions it may not take, it is halted.
    pub(super) fn runaway(&mut self) -> Result<(), UsageError> {
        self.say("\n6. A runaway agent");
        let key = self.key("loop-bot");
        // Two actions a minute for 30 minutes.
        self.tick(MIN)?;
        for i in 0..60 {
            self.tick(30_000)?;
            let at = if i % 2 == 0 { "ci.run" } else { "ci.test" };
            self.act(&key, &json!({"action_type": at}), None, None)?
                .map_err(|e| engine_err("loop-bot", &e))?;
        }
        let calibrated = self
            .engine
            .agent_status(self.now, &key)
            .map_err(|e| engine_err("agent status", &e))?;
        self.say(&format!(
            "   loop-bot calibrated on 60 calm actions over 30 minutes: {}",
            calibrated.cb_state.as_str()
        ));
        // Then one attempt every 2 seconds (15x its rate). Throttled, it
        // keeps hammering for a while, then probes for a way through.
        let mut rate_limited = 0u32;
        let mut longest_retry = 0u64;
        let mut first_429: Option<(u32, u64)> = None;
        let mut probing_from: Option<u32> = None;
        let mut halted_rows: Vec<u64> = Vec::new();
        let mut attempts = 0u32;
        let mut seen = self.transitions.len();
        while attempts < 5000 && halted_rows.len() < 3 {
            attempts += 1;
            self.tick(2_000)?;
            let probing = first_429.is_some_and(|(t, _)| attempts > t + 150);
            if probing && probing_from.is_none() {
                probing_from = Some(attempts);
                self.say(&format!(
                    "   attempt {attempts:>4}: still throttled, loop-bot starts probing with db.drop"
                ));
            }
            let body = if probing {
                json!({"action_type": "db.drop", "metadata": {"table": "audit"}})
            } else {
                json!({"action_type": "ci.run"})
            };
            match self.act(&key, &body, None, None)? {
                Err(e) => {
                    let ms = e
                        .retry_after_ms()
                        .ok_or_else(|| engine_err("loop-bot", &e))?;
                    rate_limited += 1;
                    longest_retry = longest_retry.max(ms);
                    if first_429.is_none() {
                        first_429 = Some((attempts, ms));
                        self.say(&format!(
                            "   attempt {attempts:>4}: first {} {} (retry_after_ms {ms}), nothing chained",
                            e.http_status(),
                            e.code()
                        ));
                    }
                }
                Ok(a) => {
                    if a.result.denial_reason == Some(DenialReason::AgentHalted) {
                        halted_rows.push(a.result.audit_event_id.row());
                    }
                }
            }
            for t in self.transitions.iter().skip(seen) {
                if t.agent == "loop-bot" && !self.json {
                    outln!(
                        "   attempt {attempts:>4} (row {:>3}): {}",
                        t.row,
                        t.describe()
                    );
                }
            }
            seen = self.transitions.len();
        }
        self.say(&format!(
            "   {attempts} attempts: {rate_limited} answered 429 RATE_LIMITED, retry_after_ms up to {longest_retry} (errors, not decisions: nothing chained)"
        ));
        self.say(&format!(
            "   {} attempts denied AGENT_HALTED (rows {}); only an operator's resume lifts HALT",
            halted_rows.len(),
            halted_rows
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let status = self
            .engine
            .agent_status(self.now, &key)
            .map_err(|e| engine_err("agent status", &e))?;
        self.say(&format!(
            "   GET /agent/status (loop-bot): {} since {}{}",
            status.cb_state.as_str(),
            status.since,
            status
                .signal
                .map(|s| format!(", signal {}", s.as_str()))
                .unwrap_or_default()
        ));
        let throttled = self
            .transitions
            .iter()
            .any(|t| t.agent == "loop-bot" && t.rec.to == Some(State::Throttle));
        self.check(
            "the runaway was throttled (429 with retry_after_ms) before it was halted",
            throttled
                && rate_limited > 0
                && longest_retry > 0
                && status.cb_state == State::Halt
                && !halted_rows.is_empty(),
        );
        self.report(
            "runaway",
            json!({
                "calibrated_state": calibrated.cb_state,
                "attempts": attempts,
                "rate_limited": rate_limited,
                "first_rate_limited": first_429.map(|(n, ms)| json!({"attempt": n, "retry_after_ms": ms})),
                "longest_retry_after_ms": longest_retry,
                "probing_from_attempt": probing_from,
                "halted_denial_rows": halted_rows,
                "status": status,
            }),
        );
        self.report("rate_limited", rate_limited);
        Ok(())
    }

    /// Section 7: Verify the chain, restart from the persisted entries, sign a
    /// checkpoint with the demo key.
    pub(super) fn chain(&mut self) -> Result<Signed, UsageError> {
        self.say("\n7. The audit chain");
        self.tick(MIN)?;
        let verified = self
            .engine
            .verify_audit(self.now, &self.svc)
            .map_err(|e| engine_err("verify", &e))?;
        self.say(&format!(
            "   {} entries persisted; GET /audit/verify: chain_valid={} through row {}",
            self.persisted.len(),
            verified.chain_valid,
            verified.verified_through_row
        ));
        self.check(
            "the chain verifies",
            verified.chain_valid && verified.verified_through_row == self.persisted.len() as u64,
        );
        let mut restarted = Engine::new(self.engine.config().clone());
        let same = restarted
            .restore_org(ORG, self.persisted.iter().map(|s| s.bytes.as_slice()))
            .is_ok()
            && restarted.snapshot(ORG).map(|s| s.as_bytes().to_vec()).ok()
                == self
                    .engine
                    .snapshot(ORG)
                    .map(|s| s.as_bytes().to_vec())
                    .ok();
        self.say(&format!(
            "   restart: restore_org from the persisted entries rebuilds the same state: {same}"
        ));
        self.check("the persisted entries restore the same engine", same);
        let cp = self
            .engine
            .checkpoint(self.now, &self.svc)
            .map_err(|e| engine_err("checkpoint", &e))?;
        let signer = Ed25519Signer::from_seed(SIGNER_NAME, SIGNING_SEED)
            .map_err(|e| UsageError(format!("demo: {e}")))?;
        let text = cp
            .sign(&[&signer])
            .map_err(|e| UsageError(format!("demo: {e}")))?;
        let trusted = SignedCheckpoint::parse(&text)
            .and_then(|s| s.verify(&[&signer.verifier()], Some(ORG)))
            .map_err(|e| UsageError(format!("demo: {e}")))?;
        self.say(&format!(
            "   checkpoint: size {} root {}, signed by {SIGNER_NAME}",
            cp.size, cp.root
        ));
        let events = self
            .events
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        self.say(&format!("   events for webhooks: {events}"));
        self.report("verify", verified);
        self.report("restored_identical", same);
        self.report("checkpoint", cp);
        Ok(Signed {
            text,
            signer,
            trusted,
        })
    }

    /// Section 8: Export the log as JSON Lines; an edited copy fails verification at
    /// the edited row. Returns the (untouched) export.
    pub(super) fn tamper(
        &mut self,
        signed: &Signed,
        drop: &ActionResult,
    ) -> Result<String, UsageError> {
        self.say("\n8. Someone edits the exported log");
        let mut text = String::new();
        for s in &self.persisted {
            let e = al_audit_chain::decode(&s.bytes)
                .map_err(|e| UsageError(format!("demo: row {}: {e}", s.row)))?;
            text.push_str(&al_audit_chain::entry_to_line(&e, &s.hash));
            text.push('\n');
        }
        let row = drop.audit_event_id.row();
        let mut v = JsonlVerifier::new(ChainVerifier::new(ORG).against(&signed.trusted));
        for (l, r) in text.lines().zip(1u64..) {
            if r == row {
                let edited = l.replace("\"status\":\"denied\"", "\"status\":\"executed\"");
                v.push_line(edited.as_bytes());
            } else {
                v.push_line(l.as_bytes());
            }
        }
        let caught = v.finish(self.now).result;
        self.say(&format!(
            "   row {row} (data-bot's denied db.drop) rewritten as executed: chain_valid={}, first_broken_at_row_id={}",
            caught.chain_valid,
            caught
                .first_broken_at_row_id
                .map_or_else(|| "-".to_owned(), |i| i.to_string())
        ));
        self.check(
            "the tampered copy fails at the edited row",
            !caught.chain_valid && caught.first_broken_at_row_id == Some(drop.audit_event_id),
        );
        self.report("tampered", json!({"row": row}));
        self.report("tampered_verify", caught);
        Ok(text)
    }

    /// Section 9: The engine proves the `db.drop` denial is in the log; the proof
    /// checks against the signed checkpoint.
    pub(super) fn prove(
        &mut self,
        signed: &Signed,
        drop: &ActionResult,
    ) -> Result<al_audit_chain::InclusionProof, UsageError> {
        self.say("\n9. Proof of one event");
        let proof = self
            .engine
            .prove(self.now, &self.svc, &drop.audit_event_id.to_string())
            .map_err(|e| engine_err("prove", &e))?;
        let ok = proof.verify(&signed.trusted).is_ok();
        self.say(&format!(
            "   {} is in the log of size {}: {} hashes, verified against the signed checkpoint: {ok}",
            drop.audit_event_id,
            signed.trusted.checkpoint().size,
            proof.path.len()
        ));
        self.check("the inclusion proof verifies", ok);
        self.report("proof_valid", ok);
        Ok(proof)
    }

    /// Section 10: The org's posture.
    pub(super) fn posture(&mut self) -> Result<(), UsageError> {
        self.say("\n10. Posture");
        let posture = self
            .engine
            .posture(self.now, &self.svc)
            .map_err(|e| engine_err("posture", &e))?;
        self.say(&format!("   GET /posture: {}/100", posture.score));
        for (name, c) in &posture.components {
            self.say(&format!(
                "   {name:<18} {:>2}/{}  {}/{}: {}",
                c.score, c.max, c.numerator, c.denominator, c.formula
            ));
        }
        self.report("posture", posture);
        Ok(())
    }
}
