//! Sections 1–5: an org and its policies, agents acting, an operator
//! approving, an outcome report, a delegation and its revocation.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Host {
    /// Section 1: An org with its service key; the manifest imported with it.
    pub(super) fn bootstrap(&mut self) -> Result<(), UsageError> {
        self.say("1. An org and its policies");
        let (org, fx) = self
            .engine
            .create_org(self.now, ORG, &mut self.entropy)
            .map_err(|e| engine_err("create org", &e))?;
        let rows = self.keep(fx)?;
        self.svc = org.service_key.expose().to_owned();
        self.say(&format!(
            "   org {ORG} created (row {}); service key {} (printed as its fingerprint)",
            first(&rows),
            org.service_key
        ));
        self.tick(MIN)?;
        let (import, fx) = self
            .engine
            .import_policies(self.now, &self.svc, MANIFEST, ImportOptions::default())
            .map_err(|e| engine_err("import", &e))?;
        self.keep(fx)?;
        self.say(&format!(
            "   POST /policies/import (service key): {} added, rows {}",
            import.added.len(),
            row_span(&import.audit_event_ids)
        ));
        let listed = self
            .engine
            .list_policies(&self.svc, PolicyScope::Org)
            .map_err(|e| engine_err("list policies", &e))?;
        for p in &listed.policies {
            self.say(&format!(
                "   {:<20} {:<12} {}",
                p.name, p.action_type, p.effect
            ));
        }
        self.say(&format!("   policy set digest {}\n", import.set_digest));
        self.report("policies", import);
        Ok(())
    }

    /// Section 2: Agents register with the service key and act with their own
    /// keys. Returns the deploy's result (it needs approval) and the denied
    /// `db.drop`'s (the row the tamperer edits and the proof covers).
    pub(super) fn agents_act(&mut self) -> Result<(ActionResult, ActionResult), UsageError> {
        self.say(
            "2. Agents register (service key) and act (their own keys; every decision is chained)",
        );
        let mut ids = BTreeMap::new();
        for (name, description) in [
            ("release-bot", "merges and ships"),
            ("data-bot", "answers questions from the warehouse"),
            ("support-bot", "helps customers"),
            ("loop-bot", "runs CI"),
        ] {
            self.tick(MIN)?;
            let body = json!({"name": name, "description": description}).to_string();
            let (reg, fx) = self
                .engine
                .register_agent(self.now, &self.svc, &body, &mut self.entropy)
                .map_err(|e| engine_err("register", &e))?;
            let rows = self.keep(fx)?;
            self.names.insert(reg.id.clone(), name.to_owned());
            self.say(&format!(
                "   registered {name:<12} {} (row {}), key {}",
                reg.id,
                first(&rows),
                reg.api_key
            ));
            self.keys
                .insert(name.to_owned(), reg.api_key.expose().to_owned());
            ids.insert(name, reg.id);
        }
        self.report("agents", ids);
        self.say(&format!(
            "   {:<4} {:<12} {:<18} {:<30} why",
            "row", "agent", "action", "answer"
        ));
        let deploy = json!({"action_type": "deploy.production", "metadata": {"version": "2.4.1"}});
        let script: [Step<'_>; 7] = [
            (
                "release-bot",
                json!({"action_type": "pr.merge", "metadata": {"pr_size": 42, "repo": "acme/backend"}}),
                None,
                200,
                ActionStatus::Executed,
                None,
            ),
            (
                "release-bot",
                json!({"action_type": "pr.merge", "metadata": {"pr_size": 1200, "repo": "acme/backend"}}),
                None,
                200,
                ActionStatus::Denied,
                Some("CONDITIONS_DENIED"),
            ),
            (
                "release-bot",
                deploy.clone(),
                Some("deploy-2.4.1"),
                202,
                ActionStatus::Requested,
                None,
            ),
            // The SDK retries with the same X-AL-Event-ID: the original answer, as a 409.
            (
                "release-bot",
                deploy,
                Some("deploy-2.4.1"),
                409,
                ActionStatus::Requested,
                None,
            ),
            (
                "data-bot",
                json!({"action_type": "db.query", "data_accessed": [{"type": "customer_records", "count": 20, "sensitivity": "high"}]}),
                None,
                200,
                ActionStatus::Denied,
                Some("CONDITIONS_DENIED"),
            ),
            (
                "data-bot",
                json!({"action_type": "db.drop", "metadata": {"table": "users"}}),
                None,
                200,
                ActionStatus::Denied,
                Some("POLICY_DENIED"),
            ),
            (
                "support-bot",
                json!({"action_type": "email.send", "metadata": {"to": "someone@example.com"}}),
                None,
                200,
                ActionStatus::PolicyNotFound,
                None,
            ),
        ];
        let mut as_scripted = true;
        for (agent, body, event_id, http, status, reason) in script {
            self.tick(MIN)?;
            let key = self.key(agent);
            let d = self.decide(agent, &key, &body, event_id, None)?;
            as_scripted &= expect(&d, http, status, reason);
            self.decisions.push(d);
        }
        self.check(
            "every scripted action got the status the script expects",
            as_scripted,
        );
        let find = |agent: &str, at: &str| {
            self.decisions
                .iter()
                .find(|d| d.agent == agent && d.action_type == at && !d.answer.replayed)
                .map(|d| d.answer.result.clone())
                .ok_or_else(|| UsageError(format!("demo: {agent}'s {at} was not decided")))
        };
        Ok((
            find("release-bot", "deploy.production")?,
            find("data-bot", "db.drop")?,
        ))
    }

    /// Section 3: An operator approves the deploy; the SDK's `gate` sees the flip.
    pub(super) fn approve(&mut self, deploy: &ActionResult) -> Result<(), UsageError> {
        self.say("\n3. An operator approves the deploy");
        let apr = deploy
            .approval_id
            .clone()
            .ok_or_else(|| UsageError("demo: the deploy has no approval".into()))?;
        let agent_key = self.key("release-bot");
        self.tick(5 * MIN)?;
        let before = self
            .engine
            .approval_status(self.now, &agent_key, &apr)
            .map_err(|e| engine_err("approval status", &e))?;
        self.say(&format!(
            "   GET /api/approvals/{apr}/status (agent key): {}, escalates {}, times out {}",
            before.status.as_str(),
            before
                .escalate_at
                .map_or_else(|| "never".to_owned(), |t| t.to_string()),
            before.timeout_at
        ));
        self.tick(2 * MIN)?;
        let body = json!({"decision": "approve", "reviewer": "alice@acme.example", "comment": "change ticket CHG-1142"}).to_string();
        let (decided, fx) = self
            .engine
            .decide_approval(self.now, &self.svc, &apr, &body)
            .map_err(|e| engine_err("decide approval", &e))?;
        let rows = self.keep(fx)?;
        self.say(&format!(
            "   alice@acme.example approves it (service key): row {}, bound to row {} only",
            first(&rows),
            decided.audit_event_id.row()
        ));
        let after = self
            .engine
            .approval_status(self.now, &agent_key, &apr)
            .map_err(|e| engine_err("approval status", &e))?;
        self.say(&format!(
            "   GET /api/approvals/{apr}/status: {} -> {}",
            before.status.as_str(),
            after.status.as_str()
        ));
        self.check(
            "the approval flipped from pending to approved",
            before.status == ApprovalStatus::Pending && after.status == ApprovalStatus::Approved,
        );
        self.report("approval", json!({"before": before, "after": after}));
        Ok(())
    }

    /// Section 4: The approved deploy ran; its agent reports how it went.
    pub(super) fn outcome(&mut self, deploy: &ActionResult) -> Result<(), UsageError> {
        self.say("\n4. The deploy's outcome");
        self.tick(3 * MIN)?;
        let body = json!({"audit_event_id": deploy.audit_event_id, "outcome": {"status": "success", "message": "2.4.1 is live"}}).to_string();
        let (report, fx) = self
            .engine
            .report_outcome(self.now, &self.key("release-bot"), &body)
            .map_err(|e| engine_err("report", &e))?;
        self.keep(fx)?;
        self.say(&format!(
            "   POST /report (release-bot): 201 {} on {} (row {})",
            report.status.as_str(),
            report.audit_event_id,
            report.outcome_event_id.row()
        ));
        self.report("outcome", report);
        Ok(())
    }

    /// Section 5: A delegation: the child acts within and outside its scope, then
    /// its parent revokes it and the child's next action is refused.
    pub(super) fn delegate(&mut self) -> Result<(), UsageError> {
        self.say("\n5. release-bot delegates to a helper, then revokes it");
        let parent = self.key("release-bot");
        self.tick(MIN)?;
        let body = json!({"name": "hotfix-bot", "capabilities": ["pr.merge"], "ttl_seconds": 3600})
            .to_string();
        let (dlg, fx) = self
            .engine
            .create_delegation(self.now, &parent, &body, &mut self.entropy)
            .map_err(|e| engine_err("delegate", &e))?;
        self.keep(fx)?;
        self.names
            .insert(dlg.child_config_id.clone(), "hotfix-bot".to_owned());
        self.say(&format!(
            "   POST /delegate: {} (row {}) for hotfix-bot {}: capabilities [pr.merge] until {}",
            dlg.delegation_id,
            dlg.audit_event_id.row(),
            dlg.child_config_id,
            dlg.expires_at
        ));
        let child = dlg.child_api_key.expose().to_owned();
        let mut ok = true;
        for (body, status, reason) in [
            (
                json!({"action_type": "pr.merge", "metadata": {"pr_size": 8, "repo": "acme/backend"}}),
                ActionStatus::Executed,
                None,
            ),
            (
                json!({"action_type": "deploy.production", "metadata": {"version": "2.4.2"}}),
                ActionStatus::Denied,
                Some("DELEGATION_SCOPE"),
            ),
        ] {
            self.tick(MIN)?;
            let d = self.decide("hotfix-bot", &child, &body, None, Some(&dlg.delegation_id))?;
            ok &= expect(&d, 200, status, reason);
            self.decisions.push(d);
        }
        self.tick(MIN)?;
        let (revoked, fx) = self
            .engine
            .revoke_delegation(self.now, &parent, &dlg.delegation_id)
            .map_err(|e| engine_err("revoke", &e))?;
        let rows = self.keep(fx)?;
        self.say(&format!(
            "   DELETE /delegate/{} (release-bot): revoked={} (row {})",
            revoked.delegation_id,
            revoked.revoked,
            first(&rows)
        ));
        self.tick(MIN)?;
        let rows_before = self.persisted.len();
        let body =
            json!({"action_type": "pr.merge", "metadata": {"pr_size": 3, "repo": "acme/backend"}});
        let after = self.act(&child, &body, None, Some(&dlg.delegation_id))?;
        let refused = match &after {
            Err(e) => {
                self.say(&format!(
                    "   {:<4} {:<12} {:<18} {:<30} an error, not a decision: nothing chained",
                    "-",
                    "hotfix-bot",
                    "pr.merge",
                    format!("{} {}", e.http_status(), e.code())
                ));
                json!({"agent": "hotfix-bot", "action_type": "pr.merge", "http_status": e.http_status(), "code": e.code()})
            }
            Ok(a) => {
                json!({"agent": "hotfix-bot", "action_type": "pr.merge", "http_status": a.http_status, "status": a.result.status})
            }
        };
        ok &= matches!(&after, Err(e) if e.code() == "DELEGATION_INACTIVE")
            && self.persisted.len() == rows_before;
        self.check(
            "the child acted within its scope, was denied outside it, and was refused once revoked",
            ok,
        );
        self.report(
            "delegation",
            json!({
                "created": {
                    "delegation_id": dlg.delegation_id,
                    "child_config_id": dlg.child_config_id,
                    "parent_config_id": dlg.parent_config_id,
                    "scope": dlg.scope,
                    "expires_at": dlg.expires_at,
                    "audit_event_id": dlg.audit_event_id,
                },
                "revoked": revoked,
                "after_revoke": refused,
            }),
        );
        Ok(())
    }
}
