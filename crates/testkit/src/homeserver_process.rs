//! The local Synapse's process, for fault tests: paused (SIGSTOP: it
//! accepts connections but answers nothing, like a hung server), resumed,
//! and really restarted on the same ports and database, the way
//! `dev/synapse.sh` starts it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::LocalHomeserver;

pub struct HomeserverProcess {
    dir: PathBuf,
    url: String,
}

impl HomeserverProcess {
    pub fn of(hs: &LocalHomeserver) -> Self {
        Self { dir: hs.dir.clone(), url: hs.url().to_owned() }
    }

    fn pid(&self) -> String {
        let file = self.dir.join("homeserver.pid");
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())).trim().to_owned()
    }

    fn signal(&self, signal: &str) -> bool {
        Command::new("kill").args([signal, &self.pid()]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    }

    /// Running: a process that exited but was not reaped yet (a zombie, when
    /// this process started it) is not.
    fn alive(&self) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z'))
    }

    /// Stops the process in its tracks: its sockets stay open, nothing is
    /// answered.
    pub fn pause(&self) {
        assert!(self.signal("-STOP"), "cannot pause Synapse");
    }

    pub fn resume(&self) {
        assert!(self.signal("-CONT"), "cannot resume Synapse");
    }

    /// Stops Synapse (SIGTERM; it is resumed first in case it was paused).
    pub async fn stop(&self) {
        self.signal("-CONT");
        self.signal("-TERM");
        let started = Instant::now();
        while self.alive() {
            assert!(started.elapsed() < Duration::from_secs(30), "Synapse did not stop within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts it again, as `dev/synapse.sh` does (the deployment's
    /// configuration, then the development overlay), and waits until it answers.
    pub async fn start(&self) {
        let python = self.dir.join("../venv/bin/python");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("stdout.log")).unwrap();
        let child = std::os::unix::process::CommandExt::process_group(
            Command::new(&python)
                .args(["-m", "synapse.app.homeserver", "-c"])
                .arg(self.dir.join("homeserver.yaml"))
                .arg("-c")
                .arg(self.dir.join("dev.yaml"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
            0,
        )
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
        std::fs::write(self.dir.join("homeserver.pid"), child.id().to_string()).unwrap();
        // Synapse outlives this handle; once stopped it stays a zombie until
        // the test process ends, which `alive` allows for.
        drop(child);
        let http = reqwest::Client::new();
        let versions = format!("{}/_matrix/client/versions", self.url);
        let started = Instant::now();
        loop {
            let answer = http.get(&versions).timeout(Duration::from_secs(2)).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "Synapse did not come back within 60 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A real restart: a new process on the same ports and database.
    pub async fn restart(&self) {
        self.stop().await;
        self.start().await;
    }
}
