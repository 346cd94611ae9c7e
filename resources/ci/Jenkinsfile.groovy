// Release SLA Workbench pipeline events for Jenkins (shared-library style step).
// Put this file in a shared library as vars/workbenchEvent.groovy (and
// emit-event.sh as resources/workbench/emit-event.sh), or paste it into a Jenkinsfile.
//
//   workbenchEvent('stage_started', [stage: 'build'])
//   workbenchEvent('deployment_finished', [service: 'payments', environment: 'staging',
//                                          status: 'success', change_id: env.CHANGE_ID])
//   workbenchStage('test') { sh 'make test' }     // emits started + finished (status from outcome)
//
// Events go to $WB_EVENTS_FILE (default workbench-events.ndjson) and are archived;
// import them with: workbench import --format events workbench-events.ndjson
def call(String type, Map fields = [:]) {
    if (!fileExists('.workbench/emit-event.sh')) {
        writeFile file: '.workbench/emit-event.sh', text: libraryResource('workbench/emit-event.sh')
    }
    def args = fields.findAll { k, v -> v != null }.collect { k, v ->
        "'" + "${k}=${v}".replace("'", "'\\''") + "'"
    }.join(' ')
    sh "sh .workbench/emit-event.sh ${type} ${args}"
    archiveArtifacts artifacts: (env.WB_EVENTS_FILE ?: 'workbench-events.ndjson'), allowEmptyArchive: true
}

def workbenchStage(String name, Closure body) {
    call('stage_started', [stage: name])
    def status = 'success'
    try {
        body()
    } catch (org.jenkinsci.plugins.workflow.steps.FlowInterruptedException e) {
        status = 'cancelled'; throw e
    } catch (e) {
        status = 'failed'; throw e
    } finally {
        call('stage_finished', [stage: name, status: status])
    }
}
